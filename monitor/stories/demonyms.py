"""Words that name a country without its name: adjectives and capitals, as data for countries.py.

CLDR (through babel) has the countries' names in every language but not their adjectives
(*chinois*, *amerykański*, *турецкий*) nor the capital a report says for the country
(*Pékin*, *Moskau*, *Вашингтон*). News uses both far more often than the names: the
French seed says *chinois* three times and *Chine* never. This table covers the
countries news names most, in the feeds' languages (en, de, fr, es, it, pl, ru, tr, ar,
zh; Indonesian writes the English forms or the country's name).

``STEMS`` are matched as the start of a word, folded as ``monitor.text.words`` folds it
(lower case, accents off; ł, ı and й as they come out: *włosk-*, *китаиск-*), followed
by at most ``MAX_ENDING`` more letters: *chines-* finds chinese, chinesisch, chinesischen.
A stem is at least five letters and starts no common word of another of these languages.
``WORDS`` are whole words: shorter forms, and forms whose stem would start other words
(*russe* but not *Russell*, Italian *cinese* but not Spanish *cines*, "cinemas").
``CJK`` are found as substrings, as CJK text has no spaces. Arabic adjectives need no
entry: countries.py reads *الصيني* as *الصين* with the adjective ending.
"""

from __future__ import annotations

MAX_ENDING = 7

STEMS: dict[str, tuple[str, ...]] = {
    "US": (
        "americ",
        "amerik",
        "amerykan",
        "американ",
        "estadounid",
        "statunit",
        "washingt",
        "waszyngt",
        "vasingt",
        "вашингт",
    ),
    "CN": ("chines", "chinois", "chinsk", "китаиск", "cinli", "pekin", "beijing", "pechino", "пекин"),
    "RU": (
        "russia",
        "russisch",
        "rosyjsk",
        "российск",
        "russlan",
        "moskau",
        "moscou",
        "moscow",
        "moskw",
        "москв",
        "moskova",
        "kreml",
        "кремл",
    ),
    "DE": ("german", "deutsch", "allemand", "aleman", "tedesc", "niemieck", "немецк", "германск", "berlin", "берлин"),
    "FR": ("french", "franzos", "francais", "francus", "француз", "fransız", "fransiz", "париж", "elysee"),
    "GB": (
        "british",
        "britisch",
        "britann",
        "britanic",
        "brytyjsk",
        "британск",
        "ingiliz",
        "london",
        "londres",
        "londra",
        "londyn",
        "лондон",
        "downing",
    ),
    "IT": ("italian", "italien", "włosk", "wlosk", "итальянск", "italyan"),
    "ES": (
        "spanish",
        "spanisch",
        "espagnol",
        "espanol",
        "spagnol",
        "hiszpansk",
        "испанск",
        "ispanyol",
        "madrid",
        "мадрид",
    ),
    "TR": ("turkish", "turkisch", "tureck", "турецк", "ankara", "анкар"),
    "IN": ("indisch", "indyjsk", "индииск", "hintli", "delhi", "mumbai"),
    "JP": ("japan", "japon", "giappon", "японск", "tokyo", "tokio", "токио"),
    "IR": ("iranian", "iranisch", "iranien", "iraniano", "iransk", "иранск", "teheran", "tehran", "tahran", "тегеран"),
    "IL": ("israel", "izrael", "израил"),
    "UA": ("ukrain", "ucrain", "ucrani", "украин", "ukrayna"),
    "SY": (
        "syrian",
        "syrisch",
        "syrien",
        "siriano",
        "syryjsk",
        "сирииск",
        "suriyeli",
        "damascus",
        "damaskus",
        "damasco",
        "damaszek",
        "дамаск",
    ),
    "SA": ("saudi", "saoud", "riyadh"),
    "EG": ("egypt", "egipt", "egipc", "agypt", "egizi", "египет", "египт", "cairo", "kairo", "каир"),
    "BR": ("brazil", "brasil", "bresil", "brazyl", "бразил", "brezilya"),
    "MX": ("mexic", "mexik", "meksyk", "мексик", "meksika"),
    "PK": ("pakistan", "пакистан"),
    "AF": ("afghan", "afgan", "афган", "kabul"),
    "IQ": ("iraqi", "iraki", "iracki", "irach", "иракск", "baghdad", "bagdad"),
    "VE": ("venezol", "venezuel", "wenezuel", "венесуэл", "caracas"),
    "AU": ("australi", "австрал", "avustral", "canberra"),
    "CA": ("canad", "kanad", "канад", "ottawa"),
    "PL": (
        "polnisch",
        "polonais",
        "polacc",
        "polsk",
        "польск",
        "polonya",
        "warsaw",
        "warschau",
        "varsovi",
        "varsavia",
        "warszaw",
        "варшав",
        "varsova",
    ),
}

WORDS: dict[str, tuple[str, ...]] = {
    "IN": ("indian", "indians", "indiano", "indiani"),
    "CN": ("cinese", "cinesi", "chino", "chinos", "chinas"),
    "RU": ("russe", "russes", "ruso", "rusa", "rusos", "rusas", "russo", "russa", "russi", "rus", "rusya"),
    "FR": ("paris", "parigi", "paryz", "frances", "francesa", "franceses", "francesas", "francese", "francesi"),
    "IT": ("rome", "rzym", "roma"),
    "TR": ("turc", "turque", "turcs", "turques", "turco", "turca", "turcos", "turchi", "turk", "turkler"),
    "EG": ("kair", "caire"),
    "PL": ("polaco", "polaca", "polacos"),
}

CJK: dict[str, tuple[str, ...]] = {
    "US": ("华盛顿", "白宫"),
    "CN": ("北京",),
    "RU": ("莫斯科", "克里姆林宫"),
    "GB": ("伦敦",),
    "FR": ("巴黎",),
    "DE": ("柏林",),
    "JP": ("东京",),
    "IR": ("德黑兰",),
    "EG": ("开罗",),
}

ARABIC: dict[str, tuple[str, ...]] = {
    "US": ("واشنطن",),
    "CN": ("بكين",),
    "RU": ("موسكو",),
    "GB": ("لندن",),
    "FR": ("باريس",),
    "DE": ("برلين",),
    "IR": ("طهران",),
    "EG": ("القاهرة",),
    "SY": ("دمشق",),
    "SA": ("الرياض",),
    "IQ": ("بغداد",),
}
