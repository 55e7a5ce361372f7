"""The judge prompts of the OpenCompass protocol.

A judge's verdict depends on every character of its prompt, so these are the benchmark protocol's
own prompts, character for character: the option-matching prompts of MMBench's evaluation (English
and Chinese), VLMEvalKit's yes/no matching prompt, MathVista's answer-extraction prompt with its five
examples (from the MathVista paper's evaluation), and MM-Vet's grading prompt (from the MM-Vet paper's
evaluator). Only the way they are assembled is this project's; ``tests/tasks/vlm/test_crosscheck.py``
checks the assembled prompts against the digests of VLMEvalKit's own.
"""

from __future__ import annotations

from collections.abc import Mapping

from ming_eval.tasks.vlm.extraction import has_cjk, option_list_text

_MCQ_EN = (
    "You are an AI assistant who will help me to match an answer with several options of a single-choice "
    "question. You are provided with a question, several options, and an answer, and you need to find which "
    "option is most similar to the answer. If the meaning of all options are significantly different from the "
    "answer, output Z. Your should output a single uppercase character in A, B, C, D (if they are valid "
    "options), and Z. \n"
    "Example 1: \n"
    "Question: What is the main object in image?\nOptions: A. teddy bear B. rabbit C. cat D. dog\n"
    "Answer: a cute teddy bear\nYour output: A\n"
    "Example 2: \n"
    "Question: What is the main object in image?\nOptions: A. teddy bear B. rabbit C. cat D. dog\n"
    "Answer: Spider\nYour output: Z\n"
    "Example 3: \n"
)
_MCQ_CN = (
    "你是一个帮助我匹配答案与单选题中多个选项的 AI 助手。你会被提供：一个问题，多个选项，一个答案。"
    "你的任务是找到与答案意义最相近的选项。如果所有选项的意义都与答案显著不同，则输出 Z。"
    "你应该输出一个单个的大写字母，例如 A, B, C, D（如果它们是有效选项），或 Z。"
    "例 1:问题: 图中最主要的物体是什么?\n选项: A. 泰迪熊 B. 兔子 C. 猫 D. 狗\n答案: 一只可爱的泰迪熊\n输出: A\n"
    "例 2: \n问题: 图中最主要的物体是什么?\n选项: A. 泰迪熊 B. 兔子 C. 猫 D. 狗\n答案: 蜘蛛\n输出: Z\n"
    "例 3: \n"
)


def mcq_match_prompt(question: str, choices: Mapping[str, str], prediction: str) -> str:
    """Ask the judge which option an answer means (Chinese prompt for Chinese questions)."""
    options = option_list_text(choices)
    if has_cjk(question):
        return f"{_MCQ_CN}问题: {question}?\n选项: {options}\n答案: {prediction}\n输出: "
    return f"{_MCQ_EN}Question: {question}?\nOptions: {options}\nAnswer: {prediction}\nYour output: "


_YES_NO = (
    "You are an AI assistant who will help me to match an answer with two options of a question. The options "
    "are only Yes / No. You are provided with a question and an answer, and you need to find which option "
    "(Yes / No) is most similar to the answer. If the meaning of all options are significantly different from "
    "the answer, output Unknown. Your should output a single word among the following 3 choices: Yes, No, "
    "Unknown.\n"
    "Example 1: \n"
    "Question: Is the word in this image 'Hello'?\nAnswer: The word in this image is 'Hello'.\nYour output: Yes\n"
    "Example 2: \n"
    "Question: Is the word in this image 'Hello'?\nAnswer: The word in this image is not 'Hello'.\n"
    "Your output: No\n"
    "Example 3: \n"
)


def yes_no_match_prompt(question: str, prediction: str) -> str:
    return f"{_YES_NO}Question: {question}?\nAnswer: {prediction}\nYour output: "


_MATHVISTA_TASK = (
    "\nPlease read the following example.\nThen extract the answer from the model response and type it at the "
    "end of the prompt.\n\n"
)
_MATHVISTA_EXAMPLES = (
    "\nHint: Please answer the question requiring an integer answer and provide the final value,\n"
    "e.g., 1, 2, 3, at the end.\n\nQuestion: Which number is missing?\n\n"
    "Model response: The number missing in the sequence is 14.\n\nExtracted answer: 14\n",
    "\nHint: Please answer the question requiring a floating-point number with one decimal place and provide "
    "the final value,\ne.g., 1.2, 1.3, 1.4, at the end.\n\n"
    "Question: What is the fraction of females facing the camera?\n\n"
    "Model response: The fraction of females facing the camera is 0.6,\n"
    "which means that six out of ten females in the group are facing the camera.\n\nExtracted answer: 0.6\n",
    "\nHint: Please answer the question requiring a floating-point number with two decimal places and provide "
    "the final value,\ne.g., 1.23, 1.34, 1.45, at the end.\n\n"
    "Question: How much money does Luca need to buy a sour apple candy and a butter-scotch candy? (Unit: $)\n\n"
    "Model response: Luca needs $1.45 to buy a sour apple candy and a butterscotch candy.\n\n"
    "Extracted answer: 1.45\n",
    "\nHint: Please answer the question requiring a Python list as an answer and provide the final list,\n"
    "e.g., [1, 2, 3], [1.2, 1.3, 1.4], at the end.\n\n"
    "Question: Between which two years does the line graph saw its maximum peak?\n\n"
    "Model response: The line graph saw its maximum peak between 2007 and 2008.\n\nExtracted answer: [2007, 2008]\n",
    "\nHint: Please answer the question and provide the correct option letter, e.g., A, B, C, D, at the end.\n\n"
    "Question: What fraction of the shape is blue?\n\nChoices: (A) 3/11 (B) 8/11 (C) 6/11 (D) 3/5\n\n"
    "Model response: The correct answer is (B) 8/11.\n\nExtracted answer: B\n",
)


def mathvista_extract_prompt(question: str, prediction: str) -> str:
    """MathVista's answer-extraction prompt. The protocol's text has no line break between the
    response and "Extracted answer:" and spells "respone"; both are kept, as the judge saw them."""
    examples = "".join(example + "\n" for example in _MATHVISTA_EXAMPLES)
    return f"{_MATHVISTA_TASK}{examples}{question}\nModel respone: {prediction}Extracted answer:"


_MMVET = (
    "\nCompare the ground truth and prediction from AI models, to give a correctness score for the prediction.\n"
    "<AND> in the ground truth means it is totally right\n"
    "only when all elements in the ground truth are present in the prediction,\n"
    "and <OR> means it is totally right when any one element in the ground truth is present in the prediction.\n"
    "The correctness score is 0.0 (totally wrong), 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, or 1.0 "
    "(totally right).\n"
    "Just complete the last space of the correctness score.\n\n"
    "Question | Ground truth | Prediction | Correctness\n"
    "--- | --- | --- | ---\n"
    "What is x in the equation? | -1 <AND> -5 | x = 3 | 0.0\n"
    "What is x in the equation? | -1 <AND> -5 | x = -1 | 0.5\n"
    "What is x in the equation? | -1 <AND> -5 | x = -5 | 0.5\n"
    "What is x in the equation? | -1 <AND> -5 | x = -5 or 5 | 0.5\n"
    "What is x in the equation? | -1 <AND> -5 | x = -1 or x = -5 | 1.0\n"
    "Can you explain this meme? | This meme is poking fun at the fact that the names of the countries\n"
    "Iceland and Greenland are misleading. Despite its name, Iceland is known for its beautiful green "
    "landscapes,\n"
    "while Greenland is mostly covered in ice and snow. The meme is saying that the person has trust issues\n"
    "because the names of these countries do not accurately represent their landscapes. |\n"
    "The meme talks about Iceland and Greenland. It's pointing out that despite their names,\n"
    "Iceland is not very icy and Greenland isn't very green. | 0.4\n"
    "Can you explain this meme? | This meme is poking fun at the fact that the names of the countries\n"
    "Iceland and Greenland are misleading. Despite its name, Iceland is known for its beautiful green "
    "landscapes,\n"
    "while Greenland is mostly covered in ice and snow. The meme is saying that the person has trust issues\n"
    "because the names of these countries do not accurately represent their landscapes. |\n"
    "The meme is using humor to point out the misleading nature of Iceland's and Greenland's names.\n"
    "Iceland, despite its name, has lush green landscapes while Greenland is mostly covered in ice and snow.\n"
    "The text 'This is why I have trust issues' is a playful way to suggest\n"
    "that these contradictions can lead to distrust or confusion.\n"
    "The humor in this meme is derived from the unexpected contrast between the names of the countries\n"
    "and their actual physical characteristics. | 1.0\n"
)


def mmvet_grade_prompt(question: str, answer: str, prediction: str) -> str:
    """MM-Vet's grading prompt: the few-shot table, then the row to complete."""
    gold = answer.replace("<AND>", " <AND> ").replace("<OR>", " <OR> ")
    return _MMVET + "\n" + " | ".join([question, gold, prediction, ""])
