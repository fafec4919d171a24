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

STOPWORDS |= _set(
    # Spanish
    """el la los las un una unos unas y o pero no es son fue ser era han ha hay de del al
    a en por para con sin sobre entre como que quien cual cuando donde se su sus lo le les
    este esta estos estas ese esa eso mas muy ya tambien aunque porque segun desde hasta
    durante tras ante contra despues antes todo todos toda todas otro otra otros dijo
    puede pueden tiene tienen hace ano anos millones dos tres nuevo nueva ahora asi""",
)
STOPWORDS |= _set(
    # Italian
    """il lo la i gli le un uno una e ed o ma non e sono era stato stata essere ha hanno
    di del della dei delle degli al alla ai alle dal dalla da in nel nella nei su sul
    sulla per con tra fra come che chi cui quando dove se si suo sua suoi sue questo
    questa questi queste quello quella piu molto anche gia ancora dopo prima secondo
    contro tutto tutti tutta altro altri ha detto puo anno anni milioni due tre nuovo""",
)
STOPWORDS |= _set(
    # Polish
    """i w z na do o od po za przez dla ze we nie to jest sa byl byla bylo byli jak ale
    lub oraz czy ktory ktora ktore ktorzy tego tej tym te ten ta sie jego jej ich juz
    tez takze jednak bardzo tylko tak jako przy pod nad przed miedzy bez roku lat
    mln dwa trzy nowy nowa powiedzial moze mozna ktorego""",
)
STOPWORDS |= _set(
    # Russian
    """и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по
    только ее мне было вот от меня еще нет о из ему теперь когда даже ну вдруг ли если
    уже или ни быть был него до вас нибудь опять уж вам ведь там потом себя ничего ей
    может они тут где есть надо ней для мы тебя их чем была сам чтоб без будто чего
    раз тоже себе под будет ж тогда кто этот того потому этого какой совсем ним здесь
    этом один почти мой тем чтобы нее были куда зачем всех никогда можно при наконец
    два об другой хоть после над больше тот через эти нас про всего них какая много
    разве три эту моя впрочем свою этой перед иногда лучше чуть том нельзя такой им
    более всегда конечно всю между это также года году лет млн который которые которая""",
)
STOPWORDS |= _set(
    # Turkish
    """ve ile bir bu da de icin gibi daha cok en ama ya veya olan olarak ise ki ne o
    sonra once kadar her hem yeni iki uc diye etti eden oldu olup olmak yil yilinda
    milyon uzerinde tarafindan ancak bile sadece seklinde ilgili gore arasinda""",
)
STOPWORDS |= _set(
    # Arabic (folded: hamza forms of alef read as bare alef)
    """في من على الى ان عن مع هذا هذه التي الذي الذين كان كانت قد لا ما او ثم بين عند
    بعد قبل حتى كل وقال قال وفي ومن انه انها هو هي لم لن اي ايضا حيث منذ خلال عام""",
)
STOPWORDS |= _set(
    # Portuguese and Dutch, the next feeds' languages
    """o os as um uma e ou mas nao e sao foi de do da dos das em no na nos nas por para
    com sem sobre entre como que se seu sua mais muito ja tambem disse ano anos
    de het een en of maar niet is zijn was waren wordt werd heeft hebben van in op
    aan met voor door bij naar uit om als dat die dit deze er ook nog wel meer""",
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
        # id en de fr, then es it pl tr ru ar (folded: accents off, lower case)
        "januari january januar janvier jan enero gennaio styczen stycznia ocak январь января يناير",
        "februari february februar fevrier feb febrero febbraio luty lutego subat февраль февраля فبراير",
        "maret march marz mars mar marzo marca mart март марта مارس",
        "april avril apr abril aprile kwiecien kwietnia nisan апрель апреля ابريل",
        "mei may mai mayo maggio maj maja mayis mayıs май мая مايو",
        "juni june juin jun junio giugno czerwiec czerwca haziran июнь июня يونيو",
        "juli july juillet jul julio luglio lipiec lipca temmuz июль июля يوليو",
        "agustus august aout aug agosto sierpien sierpnia agustos август августа اغسطس",
        "september septembre sep sept septiembre setiembre settembre wrzesien wrzesnia eylul сентябрь сентября سبتمبر",
        "oktober october octobre okt oct octubre ottobre pazdziernik pazdziernika ekim октябрь октября اكتوبر",
        "november novembre nov noviembre listopad listopada kasim kasım ноябрь ноября نوفمبر",
        "desember december dezember decembre dez dec diciembre dicembre grudzien grudnia aralik aralık"
        " декабрь декабря ديسمبر",
    ],
    start=1,
):
    for _name in _names.split():
        MONTHS[_name] = _number

# Weekday names → ISO day number (1 = Monday), with the inflected forms news uses
# ("в пятницу", "w środę"). Words that also mean something common are left out:
# Indonesian "minggu" (week), Turkish "pazar" (market), Russian "среда" (environment:
# only "в среду" counts). ``_`` joins the words of a phrase.
WEEKDAYS: dict[str, int] = {}
for _number, _names in enumerate(
    [
        # id en de fr es it pl tr ru ar zh nl
        "senin monday montag lundi lunes lunedi poniedzialek poniedziałek poniedzialku poniedziałku"
        " pazartesi понедельник понедельника الاثنين الإثنين 星期一 周一 週一 maandag",
        "selasa tuesday dienstag mardi martes martedi wtorek wtorku salı sali вторник вторника الثلاثاء"
        " 星期二 周二 週二 dinsdag",
        "rabu wednesday mittwoch mercredi miercoles mercoledi sroda srode srody carsamba в_среду الأربعاء الاربعاء"
        " 星期三 周三 週三 woensdag",
        "kamis thursday donnerstag jeudi jueves giovedi czwartek czwartku persembe четверг четверга الخميس"
        " 星期四 周四 週四 donderdag",
        "jumat friday freitag vendredi viernes venerdi piatek piatku cuma пятница пятницу пятницы الجمعة"
        " 星期五 周五 週五 vrijdag",
        "sabtu saturday samstag sonnabend samedi sabado sabato sobota sobote soboty cumartesi суббота субботу"
        " субботы السبت 星期六 周六 週六 zaterdag",
        "sunday sonntag dimanche domingo domenica niedziela niedziele niedzieli воскресенье воскресенья"
        " الأحد 星期日 星期天 周日 週日 zondag",
    ],
    start=1,
):
    for _name in _names.split():
        WEEKDAYS[_name.replace("_", " ")] = _number

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
    "mil": 10**3,
    "tys": 10**3,
    "bin": 10**3,
    "тысяч": 10**3,
    "тыс": 10**3,
    "millones": 10**6,
    "milioni": 10**6,
    "milione": 10**6,
    "mln": 10**6,
    "milionow": 10**6,
    "milyon": 10**6,
    "млн": 10**6,
    "миллионов": 10**6,
    "миллиона": 10**6,
    "miliardi": 10**9,
    "miliardo": 10**9,
    "mld": 10**9,
    "miliardow": 10**9,
    "млрд": 10**9,
    "миллиардов": 10**9,
    "millon": 10**6,  # millón, folded
    "mil millones": 10**9,
    "mila": 10**3,
    "milion": 10**6,
    "miliona": 10**6,
    "miliony": 10**6,
    "miliard": 10**9,
    "miliarda": 10**9,
    "miliardy": 10**9,
    "trilyon": 10**12,
    "тысяча": 10**3,
    "тысячи": 10**3,
    "миллион": 10**6,
    "миллиард": 10**9,
    "миллиарда": 10**9,
    "万": 10**4,  # Chinese and Japanese write the scale after the digits, without a space: 80亿
    "亿": 10**8,
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
