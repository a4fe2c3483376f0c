"""A trained model scored on its test split: the model file's contract and loading
(loading), logits and speed (inference), and the scores train writes beside the model for
evaluate to read (test_logits). Train, evaluate, explain and export share it, so a change to
a metric (fruitveg.evaluation) retrains nothing."""
