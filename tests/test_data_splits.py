"""Splits on the real data: exact sizes, literal content hashes, no leakage across sides."""
from __future__ import annotations

import pytest

from psybench.data import get_split, load_sessions
from psybench.data.splits import MIN_SHARED_CHARS, overlap_groups, overlapping_pairs
from psybench.errors import ConfigError

HASHES = {
    ("seeded", "en"): "32206c785bf4c1b57d68cbadd2a12337f9178088c188200eac3b5b7972ab582a",
    ("seeded", "zh"): "b3f1a2b105b3c2a97be89765c3cb01ace1d7c3894dc2d45f1b6a00ef1eda4034",
    ("table5", "en"): "4e40b513d13eb8049fa1d6836bd68ef8f979861dd3f4d3bb7449aacd1292a6fc",
    ("released", "en"): "7f0efe62d6b8d7ac7c4419780a852052bc930e34f0b529137f20144e34be7205",
}
SIZES = {  # (test, train, excluded)
    ("seeded", "en"): (78, 442, 0),
    ("seeded", "zh"): (65, 366, 0),
    ("table5", "en"): (81, 431, 8),
    ("released", "en"): (79, 437, 4),
}


@pytest.fixture(scope="module")
def splits(data_dir):
    return {key: get_split(*key, data_dir=data_dir) for key in SIZES}


@pytest.mark.parametrize("key", sorted(SIZES))
def test_sizes_and_hash(splits, key):
    split = splits[key]
    assert (len(split.test_ids), len(split.train_ids), len(split.excluded_ids)) == SIZES[key]
    assert split.content_hash == HASHES[key]
    assert (split.name, split.lang) == key
    assert not set(split.test_ids) & set(split.train_ids)
    assert len(set(split.test_ids)) == len(split.test_ids)


@pytest.mark.parametrize("key", sorted(SIZES))
def test_no_turn_shared_between_test_and_train(splits, data_dir, key):
    split = splits[key]
    sessions = {s.dialog_id: s for s in load_sessions(key[1], data_dir)}
    long_contents = lambda ids: {t.content for i in ids for t in sessions[i].turns  # noqa: E731
                                 if len(t.content) >= MIN_SHARED_CHARS}
    assert not long_contents(split.test_ids) & long_contents(split.train_ids)
    assert set(split.test_ids) | set(split.train_ids) | set(split.excluded_ids) == set(sessions)


def test_table5_rows(splits):
    split = splits[("table5", "en")]
    assert len(split.rows) == 81
    assert split.test_ids[:3] == ("000876", "000871", "000936")  # file row order
    chunked = [(r["dialog_id"], r["chunk"], r["n_chunks"]) for r in split.rows if r["n_chunks"] > 1]
    assert chunked == [("000936", 2, 2), ("000911", 3, 3), ("000532", 1, 4), ("000504", 2, 2)]
    assert split.excluded_ids == ("000768", "000769", "000797", "000812", "000813", "000814", "000815",
                                  "000826")


def test_released_order_and_overlap_with_table5(splits):
    released = splits[("released", "en")]
    assert released.test_ids[:3] == ("000518", "000907", "000520")
    assert len(set(released.test_ids) & set(splits[("table5", "en")].test_ids)) == 27


def test_seeded_is_sorted_and_deterministic(splits, data_dir):
    split = splits[("seeded", "en")]
    assert list(split.test_ids) == sorted(split.test_ids)
    assert get_split("seeded", "en", data_dir) == split


def test_overlap_groups_keep_618_619_together(data_dir):
    sessions = load_sessions("en", data_dir)
    pairs = overlapping_pairs(sessions)
    assert len(pairs) == 23
    assert pairs[("000618", "000619")] == 22
    assert pairs[("000813", "000814")] == 12
    groups = overlap_groups(sessions)
    assert ("000616", "000617") in groups and ("000618", "000619") in groups
    assert overlapping_pairs(load_sessions("zh", data_dir)) == {}


@pytest.mark.parametrize("name", ["table5", "released"])
def test_english_only_splits(data_dir, name):
    with pytest.raises(ConfigError, match="English only"):
        get_split(name, "zh", data_dir)


def test_unknown_split(data_dir):
    with pytest.raises(ConfigError, match="unknown split"):
        get_split("random", "en", data_dir)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_seeded_keeps_conversation_chains_together(splits, data_dir, lang):
    sessions = load_sessions(lang, data_dir)
    test = set(splits[("seeded", lang)].test_ids)
    links = [(a.dialog_id, b.dialog_id) for a, b in zip(sessions, sessions[1:]) if b.is_same_session == 1]
    assert len(links) == {"en": 261, "zh": 73}[lang]
    assert all((a in test) == (b in test) for a, b in links)
    groups = overlap_groups(sessions, chains=True)
    assert (len(groups), max(map(len, groups))) == {"en": (255, 9), "zh": (358, 30)}[lang]
