"""psybench's own prompt texts (the authors' strings live in psybench/constants.py).

`clean` style: a system prompt in the session's language; `paper` style in Chinese: the authors wrote
no Chinese prompt, so PAPER_INSTRUCTION_ZH is our translation of constants.PAPER_INSTRUCTION.
Classification prompts list the allowed labels by their canonical (English) names in both languages,
because the scorer compares canonical names."""
from __future__ import annotations

# Speaker prefix of the therapist in `paper` chats and in references ("Therapist: {t}").
THERAPIST_PREFIXES = {"en": "Therapist: ", "zh": "治疗师: "}

PAPER_INSTRUCTION_ZH = ("你是一位友善且专业的AI心理咨询师，总是提供有用的情感支持。这是一个真实的心理咨询案例。"
                        "背景如下：{background} 请生成对话的回复。")
PAPER_HISTORY_PREFIX_ZH = "这是之前的对话记录："

CLEAN_SYSTEM = {
    "en": ("You are a friendly and professional AI psychotherapist who always provides useful emotional "
           "support. This is a real psychological counseling case.\nBackground: {background}\n"
           "Continue the session as the therapist."),
    "zh": "你是一位友善且专业的AI心理咨询师，总是提供有用的情感支持。这是一个真实的心理咨询案例。\n背景：{background}\n"
          "请以咨询师的身份继续这次咨询。",
}
# What the clean system prompt asks the model to write, per target shape.
CLEAN_FORMAT = {
    ("en", "dialog"): " Reply with the therapist's next utterance only.",
    ("en", "reasoning"): (" First explain your reasoning, then reply, in exactly this format:\n"
                          "Reasoning: <your reasoning>\n Therapist: <your reply>"),
    ("en", "observation"): (" First state what you observe in the client's last message, then your "
                            "reasoning, then reply, in exactly this format:\nObservation: <observation>\n "
                            "Reasoning: <your reasoning>\n Therapist: <your reply>"),
    ("zh", "dialog"): "只回复咨询师的下一句话。",
}
# Opens a clean chat whose first message would be the therapist's (chat templates want a user first).
CLEAN_OPENER = {"en": "(The session begins.)", "zh": "（咨询开始。）"}
CLEAN_PREVIOUS_NOTE = {"en": "\nThe previous session ended with the last messages below.",
                       "zh": "\n上一次咨询的最后几句对话如下。"}

# ---- classification --------------------------------------------------------------------------
ANSWER_PREFIX = "Answer: "  # the label answer line, in both languages (extract parses it)
LABEL_SEPARATOR = "; "
CLS_QUESTION = {
    ("en", "emotion"): "Which emotion(s) does the client express in the marked utterance?",
    ("en", "strategy"): "Which counseling strategy or strategies does the therapist use in the marked utterance?",
    ("en", "psychotherapy"): "Which psychotherapy approach does the therapist follow in this session?",
    ("en", "topic"): "What is the topic of this counseling session?",
    ("zh", "emotion"): "来访者在标出的这句话中表达了哪种（些）情绪？",
    ("zh", "strategy"): "咨询师在标出的这句话中使用了哪种（些）咨询策略？",
    ("zh", "psychotherapy"): "咨询师在这次咨询中采用的是哪一种心理治疗流派？",
    ("zh", "topic"): "这次心理咨询的主题是什么？",
}
CLS_HEADER = {
    "en": "Below is part of a psychological counseling case.\nBackground: {background}\n",
    "zh": "以下是一个心理咨询案例的一部分。\n背景：{background}\n",
}
CLS_HEADER_NO_BACKGROUND = {  # the `background: false` option of the session-level tasks
    "en": "Below is part of a psychological counseling case.\n",
    "zh": "以下是一个心理咨询案例的一部分。\n",
}
CLS_DIALOG = {"en": "Dialog:\n{dialog}\n", "zh": "对话：\n{dialog}\n"}
CLS_MARKED = {"en": "Marked utterance:\n{utterance}\n", "zh": "标出的这句话：\n{utterance}\n"}
CLS_CHOICES = {"en": "Allowed labels: {choices}\n", "zh": "可选标签：{choices}\n"}
CLS_FORMAT_MULTI = {
    "en": "Reply with one line: \"Answer: \" followed by every label that applies, separated by \"; \", "
          "using the label names exactly as listed.",
    "zh": "请只回复一行：\"Answer: \"后接所有适用的标签，用\"; \"分隔，标签名须与上面列出的完全一致。",
}
CLS_FORMAT_SINGLE = {
    "en": "Reply with one line: \"Answer: \" followed by exactly one label, using the label name exactly as listed.",
    "zh": "请只回复一行：\"Answer: \"后接一个标签，标签名须与上面列出的完全一致。",
}
CLS_TRUNCATED = {"en": "[... transcript shortened ...]", "zh": "[……对话已截断……]"}
