"""The fitted same-event decision: logistic-regression coefficients, kept as data.

Written by ``benchmarks/fit_stories.py --write`` from 541 SemEval-2022 task 8
tuning pairs (see docs/stories.md for how they were fitted and measured). Do not edit
by hand: change the signals or the script, and fit again.
"""

INTERCEPT = -4.7666
COEFFICIENTS = (  # in the order of clustering.SIGNAL_NAMES
    +1.2396,  # names
    +1.9960,  # name_share
    +3.1068,  # numbers
    +0.3462,  # dates
    +2.5617,  # headline
    +3.4344,  # text_same_language
    +7.1230,  # text_across_languages
    -0.9263,  # headline_names_missing
    -0.8607,  # headline_numbers_missing
    -1.9738,  # dates_differ
    +0.6719,  # weekdays_shared
    -5.9861,  # days_apart
    -0.2026,  # copy
    +1.6583,  # countries
    +2.0235,  # headline_wording
    +2.0602,  # chinese_japanese_korean
)
THRESHOLD = 0.56  # best out-of-fold F0.5 (precision first) that keeps the seeds and the story corpus
