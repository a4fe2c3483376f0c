"""explain: where each multiclass model looks (Grad-CAM over test images) and what the
attention block does to the features it scales, beside the same model without it."""
