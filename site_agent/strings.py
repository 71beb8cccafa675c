"""The survey page's few strings, in Chinese and English (the agent carries no catalog machinery)."""

STRINGS = {
    "zh_CN": {
        "title": "您愿意向朋友推荐我们吗？",
        "question": "0 到 10 分，您有多大可能把本空间推荐给朋友或同事？",
        "unlikely": "完全不可能",
        "likely": "非常可能",
        "comment": "还想告诉我们什么？（选填）",
        "privacy": "请勿填写手机号、邮箱或证件号；匿名提交，个人信息不会离开本空间。",
        "submit": "提交",
        "thanks": "谢谢您的反馈！",
        "pick": "请选择 0 到 10 之间的分数。",
        "other_language": "English",
        "stale": "此页面已过期，请重新选择分数后提交。",
        "wait": "提交太频繁了，请一分钟后再试。",
    },
    "en": {
        "title": "Would you recommend us?",
        "question": "From 0 to 10, how likely are you to recommend this space to a friend or colleague?",
        "unlikely": "Not at all likely",
        "likely": "Extremely likely",
        "comment": "Anything else you would like to tell us? (optional)",
        "privacy": "Please leave out phone numbers, e-mails and ID numbers; answers are anonymous and "
                   "personal data never leaves this site.",
        "submit": "Send",
        "thanks": "Thank you for your feedback!",
        "pick": "Please choose a score from 0 to 10.",
        "other_language": "中文",
        "stale": "This page has expired; please choose your score again and send.",
        "wait": "Too many answers in a short time; please try again in a minute.",
    },
}
