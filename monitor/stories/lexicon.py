"""Small word lists the story features need, in the monitor's languages (id, de, fr, en).

All entries are in ``monitor.text.normalize`` form (casefolded, accents folded).
They are deliberately short: function words and the commonest news words, so that
what is left of a text is what tells one event from another.
"""

from __future__ import annotations


def _set(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS: frozenset[str] = _set(
    # Indonesian
    """yang dan di ke dari untuk dengan pada ini itu adalah dalam tidak akan juga telah
    sudah oleh karena sebagai atau bahwa mereka kami kita ia dia saat setelah sebelum
    tersebut para lebih bisa dapat ada namun tetapi seperti hingga sejak masih antara
    bagi tahun hari bulan orang satu dua tiga kata menurut sebuah seorang secara akan
    baru serta agar jika maka pun lain lainnya banyak juga usai kini harus belum
    sementara selain bagian tak sendiri demikian pula hal hanya saja sekitar""",
)
STOPWORDS |= _set(
    # German
    """der die das den dem des ein eine einer eines einem einen und oder aber nicht
    ist sind war waren wird werden wurde wurden hat haben hatte hatten sein seine
    ihre ihr sich mit von vom zu zum zur im in am an auf aus bei nach fur uber unter
    vor als auch auch noch nur wie so dass es er sie wir man mehr sehr schon bereits
    nun jedoch dieser diese dieses jahr jahre jahren prozent millionen milliarden
    laut sagte sagt heute gestern seit bis gegen ohne um durch soll sollen kann
    konnte mussen muss etwa rund weitere neue neuen ersten zwei drei""",
)
STOPWORDS |= _set(
    # French
    """le la les un une des du de d l et ou mais ne pas est sont a ont ete etait sera
    il elle ils elles on nous vous se sa son ses leur leurs ce cette ces qui que quoi
    dont ou dans sur sous par pour avec sans plus moins tres aussi deja encore apres
    avant selon entre depuis lors contre comme au aux y en fait faire ans annee
    millions milliards pourcent cent deux trois selon mardi a""",
)
STOPWORDS |= _set(
    # English
    """the a an and or but not is are was were be been being has have had will would
    can could should may might of to in on at by for with from as that this these
    those it its he she they we you his her their our said says also after before
    over under about into than then there here which who whom what when where while
    more most new year years percent million billion two three one first last""",
)

# Capitalised words that are not names although they are often written with a capital:
# sentence openers after a quote, titles of address, weekdays, source credits.
NOT_NAMES: frozenset[str] = STOPWORDS | _set(
    """baca juga lihat simak bagikan gambar foto dok sumber iklan berita artikel
    terkait terpopuler rekomendasi selengkapnya jakarta wib
    lesen sie auch mehr zum thema themen anzeige foto bild quelle
    lire aussi publicite photo source newsletter
    read more advertisement photo image source getty images reuters afp ap dpa
    senin selasa rabu kamis jumat sabtu minggu
    montag dienstag mittwoch donnerstag freitag samstag sonntag
    lundi mardi mercredi jeudi vendredi samedi dimanche
    monday tuesday wednesday thursday friday saturday sunday
    herr frau mr mrs ms dr prof m mme pak bu bapak ibu
    usd eur idr rp dollar dollars euro euros rupiah
    president presiden prasident prasidentin minister menteri ministre premier prime
    general national nationale nasional federal central sentral bank banque
    commission komisi kommission chief ceo director direktur directeur governor
    gubernur kanselir chancellor kanzler chef university universitas universite
    universitat prize prix hadiah state states negara""",
)

# German capitalises every noun; these frequent news nouns must not pass for names.
GERMAN_COMMON_NOUNS: frozenset[str] = _set(
    """unternehmen regierung menschen land lander stadt polizei bericht berichte
    angaben zeit woche wochen tag tage tagen monat monate ende anfang teil frage
    fall falle grund seite welt leben arbeit kinder frauen manner leute markt
    geld preis preise euro dollar milliarde million schaden folge folgen ziel
    zukunft entwicklung nutzer plattform konzern konzerns firma chef minister
    ministerin prasident prasidentin behorden behorde experten sprecher sprecherin
    erklarung mitteilung vorfall vorwurfe vorwurf spiel spiele saison trainer
    mannschaft sieg niederlage tor tore wahl wahlen partei parteien gericht urteil
    ermittlungen opfer tote verletzte einsatz feuerwehr erdbeben sturm""",
)

# Month names (and common abbreviations) → month number.
MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    [
        "januari january januar janvier jan",
        "februari february februar fevrier feb",
        "maret march marz mars mar",
        "april avril apr",
        "mei may mai",
        "juni june juin jun",
        "juli july juillet jul",
        "agustus august aout aug",
        "september septembre sep sept",
        "oktober october octobre okt oct",
        "november novembre nov",
        "desember december dezember decembre dez dec",
    ],
    start=1,
):
    for _name in _names.split():
        MONTHS[_name] = _number

# Words that scale the number before them, e.g. "1,2 Milliarden" = "1.2 billion".
SCALES: dict[str, int] = {
    "ribu": 10**3,
    "tausend": 10**3,
    "thousand": 10**3,
    "mille": 10**3,
    "juta": 10**6,
    "million": 10**6,
    "millionen": 10**6,
    "mio": 10**6,
    "millions": 10**6,
    "miliar": 10**9,
    "milyar": 10**9,
    "milliarde": 10**9,
    "milliarden": 10**9,
    "mrd": 10**9,
    "milliard": 10**9,
    "milliards": 10**9,
    "billion": 10**9,  # English short scale; German "Billion" (10^12) is rare in news
    "billions": 10**9,
    "triliun": 10**12,
    "trillion": 10**12,
    "billionen": 10**12,
}

# Lines that start like this are site furniture ("read also: …"), not the article.
BOILERPLATE_PREFIXES: tuple[str, ...] = (
    "baca juga",
    "lihat juga",
    "simak juga",
    "cek berita",
    "lesen sie auch",
    "mehr zum thema",
    "lire aussi",
    "a lire aussi",
    "à lire aussi",
    "read more",
    "read also",
    "related:",
    "advertisement",
    "for latest updates",
    "prev ",
    "next ",
)
