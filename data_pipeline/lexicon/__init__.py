"""The bilingual wording every stage shares: schema docs (step 1), the semantic model and the questions (step 2).

It sits below schema/, semantics/ and qa/ and imports none of them (tests/test_layout.py), so naming a table in
a comment, in a join path's phrase and in a question is the same code.

    glossary.py    built-in bilingual glossary of schema words; the task's question language (zh, en, auto)
    vocabulary.py  how tables and columns are named (comments first, then the glossary), in the run's language
    phrases.py     the rule-based questions' sentences, in Chinese and English, and language-level helpers
                   (plurals of labels, months, lists)
"""
