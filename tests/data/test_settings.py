"""Each data stage reads its own keys once, into a frozen settings object; errors name the key."""

import copy
import dataclasses
from pathlib import Path

import pytest

from fruitveg.audit.settings import AuditSettings, audit_settings
from fruitveg.core import params
from fruitveg.core.params import ParamError
from fruitveg.download.settings import DownloadSettings, SyntheticSettings, download_settings
from fruitveg.layout.settings import check_task, layout_settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def repo_params() -> dict:
    return params.load(REPO / "params.yaml")


@pytest.fixture
def p(repo_params: dict) -> dict:
    return copy.deepcopy(repo_params)


def test_settings_of_the_repository_params(p: dict) -> None:
    download = download_settings(p)
    assert download.source == "synthetic" and download.kaggle_dataset is None
    assert download.synthetic == SyntheticSettings(32, 4, 4, leaks=13, seed=42, fruit_cue=0.8)
    assert download.synthetic.counts == {"train": 32, "validation": 4, "test": 4}
    assert audit_settings(p) == AuditSettings(near_duplicate_distance=44, seed=42)
    layout = layout_settings(p, "binary")
    assert (layout.task, layout.image_size, layout.dedupe) == ("binary", 32, True)
    assert "banana" in layout.fruit and "tomato" in layout.vegetable
    with pytest.raises(dataclasses.FrozenInstanceError):
        layout.image_size = 64  # type: ignore[misc]


def test_download_reads_only_the_chosen_source(p: dict) -> None:
    del p["data"]["synthetic"], p["seed"]
    p["data"]["source"] = "kaggle"
    assert download_settings(p) == DownloadSettings(
        "kaggle",
        kaggle_dataset="kritikseth/fruit-and-vegetable-image-recognition",
        max_unpacked_gb=p["data"]["max_unpacked_gb"],
    )
    p["data"] |= {"source": "local", "local_path": "some/folder"}
    assert download_settings(p) == DownloadSettings("local", local_path=Path("some/folder"))


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("data.source", "s3", "'data.source' must be one of synthetic, kaggle, local; got 's3'"),
        ("data.synthetic.test", 0, "'data.synthetic.test' must be a whole number >= 1, got 0"),
        ("data.synthetic.leaks", -1, "'data.synthetic.leaks' must be a whole number >= 0"),
        ("seed", "x", "'seed' must be a whole number >= 0, got 'x'"),
    ],
)
def test_download_errors_name_the_setting(p: dict, key: str, value, message: str) -> None:
    set_key(p, key, value)
    with pytest.raises(ParamError, match=message):
        download_settings(p)


def test_local_source_needs_a_path(p: dict) -> None:
    p["data"]["source"] = "local"
    with pytest.raises(ParamError, match="'data.local_path' must name a folder"):
        download_settings(p)


def test_settings_without_their_source_are_refused() -> None:
    with pytest.raises(ValueError, match="source 'kaggle' without its settings"):
        DownloadSettings("kaggle", local_path=Path("x"))


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("audit.near_duplicate_distance", -1, "'audit.near_duplicate_distance' must be a whole"),
        ("audit.near_duplicate_distance", True, r"must be a whole number >= 0, got True"),
        ("seed", 1.5, "'seed' must be a whole number >= 0, got 1.5"),
    ],
)
def test_audit_errors_name_the_setting(p: dict, key: str, value, message: str) -> None:
    set_key(p, key, value)
    with pytest.raises(ParamError, match=message):
        audit_settings(p)


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("layout.image_size", "big", "'layout.image_size' must be a whole number >= 8, got 'big'"),
        ("layout.image_size", 4, "'layout.image_size' must be a whole number >= 8, got 4"),
        ("layout.dedupe", "yes", "'layout.dedupe' must be one of true, false; got 'yes'"),
        ("classes.fruit", "apple", "'classes.fruit' must be a list of class names, got 'apple'"),
        ("classes.vegetable", [1], "'classes.vegetable' must be a list of class names"),
    ],
)
def test_layout_errors_name_the_setting(p: dict, key: str, value, message: str) -> None:
    set_key(p, key, value)
    with pytest.raises(ParamError, match=message):
        layout_settings(p, "multiclass")


def test_layout_task_is_checked(p: dict) -> None:
    with pytest.raises(ParamError, match="layout: task must be one of binary, multiclass, got ''"):
        check_task("")
    with pytest.raises(ParamError, match="task must be one of binary, multiclass, got 'ternary'"):
        layout_settings(p, "ternary")


def set_key(p: dict, dotted: str, value) -> None:
    *parents, last = dotted.split(".")
    node = p
    for part in parents:
        node = node[part]
    node[last] = value
