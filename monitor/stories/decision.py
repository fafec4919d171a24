"""The fitted same-event decision: logistic-regression coefficients, kept as data.

Written by ``benchmarks/fit_stories.py --write`` from 541 SemEval-2022 task 8
tuning pairs (see docs/stories.md for how they were fitted and measured). Do not edit
by hand: change the signals or the script, and fit again.
"""

INTERCEPT = -4.7252
COEFFICIENTS = (  # in the order of clustering.SIGNAL_NAMES
    +1.3204,  # names
    +1.8499,  # name_share
    +3.1225,  # numbers
    +0.3562,  # dates
    +2.5144,  # headline
    +3.0516,  # text_same_language
    +7.4306,  # text_across_languages
    -0.7381,  # headline_names_missing
    -0.8441,  # headline_numbers_missing
    -1.8982,  # dates_differ
    +0.6954,  # weekdays_shared
    -6.1855,  # days_apart
    -0.1106,  # copy
    +1.9694,  # countries
    +2.1327,  # headline_wording
    +1.9291,  # chinese_japanese_korean
)
THRESHOLD = 0.56  # best out-of-fold F0.5 (precision first) that keeps the seeds and the story corpus
