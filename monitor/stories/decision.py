"""The fitted same-event decision: logistic-regression coefficients, kept as data.

Written by ``benchmarks/fit_stories.py --write`` from 541 SemEval-2022 task 8
tuning pairs (see docs/stories.md for how they were fitted and measured). Do not edit
by hand: change the signals or the script, and fit again.
"""

INTERCEPT = -4.1970
COEFFICIENTS = (  # in the order of clustering.SIGNAL_NAMES
    +1.4827,  # names
    +1.6123,  # name_share
    +2.8050,  # numbers
    +0.3735,  # dates
    +2.3557,  # headline
    +2.6881,  # text_same_language
    +6.9680,  # text_across_languages
    -0.6552,  # headline_names_missing
    -0.6795,  # headline_numbers_missing
    -1.6967,  # dates_differ
    +0.7397,  # weekdays_shared
    -6.7977,  # days_apart
    +0.2294,  # copy
    +0.4955,  # countries
    +1.7230,  # headline_wording
)
THRESHOLD = 0.59  # best out-of-fold F0.5 (precision first) that keeps the seeds and the story corpus
