"""Session-level classification and the background: the `background` task option, its defaults
(left out for psychotherapy, whose backgrounds sometimes name the therapy; shown for topic), and the
count of backgrounds that name their own gold label, recorded in the build report."""
from __future__ import annotations

import pytest

from psybench.tasks import build_samples_with_report, get_task


def test_defaults_declared_in_the_task_files() -> None:
    assert get_task("psychotherapy").options["background"] is False
    assert get_task("topic").options["background"] is True


@pytest.mark.parametrize(("task", "lang", "split", "n", "named", "shown"), [
    ("psychotherapy", "en", "seeded", 78, 1, False),
    ("psychotherapy", "en", "table5", 81, 3, False),
    ("psychotherapy", "zh", "seeded", 65, 2, False),
    ("topic", "en", "seeded", 72, 0, True),
    ("topic", "zh", "seeded", 65, 0, True),
])
def test_background_default_and_label_count(task, lang, split, n, named, shown, data_dir) -> None:  # noqa: ANN001
    samples, report = build_samples_with_report(task, lang, split=split, data_dir=data_dir)
    assert len(samples) == n and report.counts == {"background_names_label": named}
    assert sum(s.meta["background_names_label"] for s in samples) == named
    header = "Background: " if lang == "en" else "背景："
    for s in samples:
        assert s.meta["background_shown"] is shown
        assert (header in s.messages[0]["content"]) is shown


def test_option_puts_the_background_back(data_dir) -> None:  # noqa: ANN001
    plain, _ = build_samples_with_report("psychotherapy", "en", data_dir=data_dir)
    shown, report = build_samples_with_report("psychotherapy", "en", data_dir=data_dir, background=True)
    assert report.counts == {"background_names_label": 1}  # counted whether or not it is shown
    first = shown[0].messages[0]["content"]
    assert first.startswith("Below is part of a psychological counseling case.\nBackground: A client experiences "
                            "anxiety while walking down the high s")
    # the same prompt, less the background line
    background_line = first.split("\n")[1] + "\n"
    assert plain[0].messages[0]["content"] == first.replace(background_line, "", 1)
    named = [s for s in shown if s.meta["background_names_label"]]
    assert len(named) == 1 and named[0].gold_labels[0].lower().split()[0] in named[0].messages[0]["content"].lower()
