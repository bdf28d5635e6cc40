"""Dialogue builder and chat rules on hand-written synthetic sessions (no real data)."""
from __future__ import annotations

from psybench.constants import PAPER_INSTRUCTION, PAPER_OBSERVATION_ONLY_INSTRUCTION, PAPER_REASONING_ONLY_INSTRUCTION
from psybench.data.splits import Split
from psybench.records import Session, Turn
from psybench.tasks import dialogue, get_task
from psybench.tasks.chat import clean_chat, paper_chat, previous_sessions
from psybench.tasks.common import BuildOptions

INSTR = PAPER_INSTRUCTION.format(background="Ann feels stuck.")


def T(i: int, who: str, text: str, obs: str = "", rsn: str = "", participant: str | None = None) -> Turn:
    therapist = who == "T"
    return Turn(index=i, speaker="Supporter" if therapist else "Seeker",
                participant=participant or ("Therapist" if therapist else "Ann"), content=text, raw_id=f"1-{i}",
                observation="" if therapist else obs, reasoning=rsn if therapist else "")


def S(dialog_id: str, turns: list[Turn], is_same_qa: int = 0, lang: str = "en",
      background: str = "Ann feels stuck.") -> Session:
    return Session(dialog_id=dialog_id, lang=lang, theme="", psychotherapy="Reality Therapy",
                   topic="Job Crisis", stage="", guide="", is_same_qa=is_same_qa, is_same_session=0,
                   background=background, reasoning="", summary="", turns=tuple(turns))


# Client-first session: a client run of two (one named differently), a therapist run of two, ...
A = S("000100", [
    T(0, "C", "Hi."), T(1, "C", "I came with Bo.", participant="Bo"),
    T(2, "T", "Welcome.", rsn="Greets."), T(3, "T", "What brings you?", rsn="Opens."),
    T(4, "C", "Work.", obs="Terse."),
    T(5, "T", "Tell me more."),  # no reasoning
    T(6, "C", "It is hard.", obs=""),  # no observation
    T(7, "T", "I hear you.", rsn="Validates."),
])
# Therapist-first session continuing A (is_same_qa == 1): gets A's last 3 turns as history.
B = S("000101", [T(0, "T", "Last time you said work.", rsn="Recalls."), T(1, "C", "Yes.", obs="Agrees.")],
      is_same_qa=1)
SPLIT = Split("toy", "en", ("000100", "000101"), ())


def test_paper_chat_merges_runs_and_prefixes() -> None:
    chat = [m.as_dict() for m in paper_chat(A)]
    assert chat == [
        {"role": "user", "content": INSTR + "Ann: Hi.Bo: I came with Bo."},
        {"role": "assistant", "content": "Therapist: Welcome. What brings you?"},
        {"role": "user", "content": "Ann: Work."},
        {"role": "assistant", "content": "Therapist: Tell me more."},
        {"role": "user", "content": "Ann: It is hard."},
        {"role": "assistant", "content": "Therapist: I hear you."},
    ]


def test_paper_chat_previous_session_history_only_when_therapist_first_and_same_qa() -> None:
    prev = previous_sessions([B, A])
    assert prev == {"000101": A}
    chat = [m.as_dict() for m in paper_chat(B, prev["000101"])]
    assert chat[0] == {"role": "user", "content": INSTR + "There is the dialog history: "
                       "Therapist: Tell me more. Ann: It is hard. Therapist: I hear you. "}
    assert chat[1] == {"role": "assistant", "content": "Therapist: Last time you said work."}
    b0 = S("000101", list(B.turns), is_same_qa=0)
    assert paper_chat(b0, A)[0].content == INSTR


def test_reasoning_and_observation_targets_and_history() -> None:
    chat = [m.as_dict() for m in paper_chat(A, variant="observation")]
    # run 2-3: reasonings joined; the client turn before it (Bo's) has no observation -> left out
    assert chat[1]["content"] == "Reasoning: Greets. Opens.\n Therapist: Welcome. What brings you?"
    assert chat[3]["content"] == "Observation: Terse.\n Therapist: Tell me more."
    chat2 = [m.as_dict() for m in paper_chat(A, variant="reasoning")]
    assert chat2[5]["content"] == "Reasoning: Validates.\n Therapist: I hear you."


def _build(task: str, turns: str = "all", style: str = "paper", **extra):
    spec = get_task(task)
    return dialogue.build(spec, [A, B], SPLIT, BuildOptions("en", turns, style, {**spec.options, **extra}))


def test_dialog_samples_teacher_forced() -> None:
    samples, skipped = _build("dialog")
    assert skipped == {}
    assert [s.id for s in samples] == ["dialog/000100/2", "dialog/000100/5", "dialog/000100/7", "dialog/000101/0"]
    first = samples[0]
    assert len(first.messages) == 1 and first.messages[0]["content"].endswith("Bo: I came with Bo.")
    assert first.target == first.reference == "Therapist: Welcome. What brings you?"
    assert first.meta["turn_indices"] == [2, 3] and first.meta["position"] == 0
    assert samples[2].meta["n_history_messages"] == 5
    assert samples[3].meta["previous_dialog_id"] == "000100"
    last, _ = _build("dialog", turns="last")
    assert [s.id for s in last] == ["dialog/000100/7", "dialog/000101/0"]


def test_skips_are_counted() -> None:
    samples, skipped = _build("reasoning")
    assert [s.id for s in samples] == ["reasoning/000100/2", "reasoning/000100/7", "reasoning/000101/0"]
    assert skipped == {"no_reasoning": 1}
    assert samples[1].target == "Reasoning: Validates.\n Therapist: I hear you."
    assert samples[1].reference == "Therapist: I hear you."
    # the history keeps every earlier message, annotated where it can be
    assert samples[1].messages[3]["content"] == "Therapist: Tell me more."
    samples, skipped = _build("observation")
    assert skipped == {"no_observation": 3, "no_reasoning": 1}
    assert samples == []


def test_mix_union_and_aux_prompts() -> None:
    samples, skipped = _build("mix")
    ids = [s.id for s in samples]
    assert len(ids) == len(set(ids))
    assert [i for i in ids if "/000100/2" in i] == [
        "mix.dialog/000100/2", "mix.reasoning/000100/2", "mix.reasoning_only/000100/2"]
    assert skipped["observation_only:no_observation"] == 3
    aux = next(s for s in samples if s.id == "mix.reasoning_only/000100/2")
    assert aux.messages[-1]["content"] == (INSTR + "Ann: Hi.Bo: I came with Bo.Therapist: Welcome. What brings you? "
                                           + PAPER_REASONING_ONLY_INSTRUCTION)
    assert aux.target == aux.reference == "Greets. Opens." and aux.extract == "whole"
    assert aux.meta["subtask"] == "reasoning_only"
    obs = next(s for s in samples if s.id == "mix.observation_only/000100/5")
    assert obs.messages[-1]["content"] == "Ann: Work. " + PAPER_OBSERVATION_ONLY_INSTRUCTION
    assert obs.target == "Terse."


def test_clean_style_has_no_speaker_names() -> None:
    samples, _ = _build("dialog", style="clean")
    for sample in samples:
        assert sample.messages[0]["role"] == "system"
        roles = [m["role"] for m in sample.messages[1:]]
        assert roles == ["user", "assistant"] * (len(roles) // 2) + ["user"] * (len(roles) % 2)
        for m in sample.messages[1:]:
            assert not any(f"{name}:" in m["content"] for name in ("Ann", "Bo", "Therapist"))
    assert samples[0].messages[1]["content"] == "Hi.\nI came with Bo."
    assert samples[0].target == "Welcome. What brings you?"
    assert samples[0].reference == "Therapist: Welcome. What brings you?"
    # therapist-first session: a neutral opener; the previous session's tail goes to the system prompt
    b = samples[3]
    assert b.messages[1] == {"role": "user", "content": "(The session begins.)"}
    assert "[therapist] I hear you." in b.messages[0]["content"]
    assert "Ann:" not in b.messages[0]["content"]


def test_chinese_therapist_is_assistant() -> None:
    zh = S("000002", [T(0, "C", "你好。", participant="来访者"), T(1, "T", "请坐。", participant="治疗师")],
           lang="zh", background="背景")
    chat = [m.as_dict() for m in paper_chat(zh)]
    assert [m["role"] for m in chat] == ["user", "assistant"]
    assert chat[0]["content"].endswith("来访者: 你好。") and chat[1]["content"] == "治疗师: 请坐。"
    clean = clean_chat(zh)
    assert clean[0].content.startswith("你是") and clean[2].content == "请坐。"
