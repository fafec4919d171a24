"""Pages that are not an article (pure): consent walls, captchas, paywalls, error pages.

A fetcher often gets, instead of the article, the page a site shows to a stranger: a
cookie or consent wall, a bot check, a subscription offer, "this article is no longer
available", a login form. Their text is the same for every article of the site, so
taken as the article's text it would join unrelated articles as copies and match
topics on boilerplate. ``why_not_article`` names such a text; the pipeline then falls
back to the feed's own text (see docs/stories.md, "Not an article").

The rule looks at the whole text, not at single words: the text is cut into lines and
sentences, each one is "wall language" when it contains one of the phrases below
(matched casefolded and accent-folded, in the languages of the feeds), and the text is
rejected when wall language is most of it, or when little else is left. A real article
that says "subscribe to our newsletter" or "enable JavaScript to watch this video" in
one line keeps its text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache

import ahocorasick

from monitor.text import normalize

# Reasons, also stored in ``text_source`` as "rejected: <reason>".
CONSENT = "consent wall"
CAPTCHA = "captcha"
SCRIPT = "javascript required"
ADBLOCK = "ad-blocker wall"
PAYWALL = "paywall"
UNAVAILABLE = "unavailable"
ERROR = "error page"
LOGIN = "login form"
NEWSLETTER = "newsletter signup"

WALL_SHARE = 0.5  # wall language this much of the text: not an article, however long
STUB_SHARE = 0.2  # ... or this much when hardly anything else is left:
STUB_WORDS = 40  # the words (a CJK character counting as half a word) of the rest below this
CJK_WORD = 0.5
NEAR_WORDS = 12  # in a run-on segment, a wall phrase claims this many words either side
TEASER_WORDS = 80  # a text this short that ends in a subscription offer is a paywall's teaser
SANDWICH_WORDS = 12  # a line this short between two wall lines belongs to the wall
LOGIN_WORDS = 8  # a login form is short labels: longer sentences that say "password" are prose

# Phrases per reason, one block per language ("de: ..."), separated by "|" and written as
# a reader sees them; they are normalised like the text (casefold, accents folded), so
# "Zustimmung" also finds "ZUSTIMMUNG". A phrase matches at the start of a word and may
# run on ("cookie" finds "cookies"); a final "~" asks for the end of a word too. A "?"
# marks a weak phrase, one news also says ("personal data", "has been removed"): it
# counts only in a text that also holds a strong one. Phrases
# are specific on purpose: "subscribe" alone is in half the real articles of the corpus,
# "subscribe to continue reading" in none.
PHRASES: dict[str, str] = {
    CAPTCHA: """
en: i am not a robot | i'm not a robot | are you a robot | ?not a robot | verify you are human |
    verify that you are human | verifying you are human | checking your browser | complete the security check |
    ?captcha | ?unusual traffic | huge amount of connections | someone has misused the ip address |
    your ip address: | ?you have been blocked | ?access denied | ?automated requests | ?press and hold | ?ray id
de: ich bin kein roboter | ?kein roboter | sind sie ein mensch | ihre ip-adresse: | ?zugriff verweigert |
    ungewohnlich viele anfragen | ?sicherheitsuberprufung
fr: je ne suis pas un robot | ?pas un robot | votre adresse ip : | votre adresse ip: | ?acces refuse |
    verifiez que vous etes humain | ?verification de securite
es: no soy un robot | su direccion ip: | tu direccion ip: | ?acceso denegado | ?verificacion de seguridad
it: non sono un robot | il tuo indirizzo ip: | ?accesso negato | ?verifica di sicurezza
pl: nie jestem robotem | twoj adres ip | ogromna ilosc polaczen | ogromna liczbe polaczen | naduzył adresu ip |
    naduzywał adres ip
ru: я не робот | ваш ip-адрес: | ваш ip адрес: | ?доступ запрещен | подозрительный трафик | ?проверка браузера |
    вы не робот
tr: ben robot degilim | robot olmadıgınızı | robot olmadiginizi | ip adresiniz: | ?erisim engellendi
ar: لست روبوت | أنا لست روبوت | عنوان ip الخاص بك | ?تم حظر | ?رفض الوصول
zh: 我不是机器人 | ?验证码 | 您的ip地址 | 你的ip地址 | ?访问被拒绝 | 人机验证 | ?安全验证
id: saya bukan robot | alamat ip anda | ?akses ditolak
    """,
    SCRIPT: """
all: enable javascript | javascript is disabled | javascript is required | requires javascript |
    turn on javascript | javascript must be enabled | browser does not support javascript | javascript aktivieren |
    javascript ist deaktiviert | aktivieren sie javascript | activez javascript | activer javascript |
    habilita javascript | habilite javascript | activa javascript | abilita javascript | attiva javascript |
    wlacz javascript | włacz javascript | включите javascript | javascript отключен | javascript'i etkinlestir |
    javascript'i etkinleştir | javascript'ı etkinlestir | يرجى تفعيل جافا سكريبت | تفعيل javascript |
    请启用javascript | 请启用 javascript | 启用javascript | aktifkan javascript
    """,
    CONSENT: """
en: we use cookies | this site uses cookies | this website uses cookies | ?uses cookies | ?use of cookies |
    ?accept cookies | accept all cookies | cookie policy | cookie settings | cookies settings | manage cookies |
    ?by continuing to use | you agree to the use of cookies | cookies must be enabled | enable cookies |
    must enable cookies | browser must have cookies | ?set cookies | in order to obtain your consent |
    to obtain your consent | ?your consent | ?withdraw your consent | ?we and our partners |
    process your ip address | ?process your personal data | ?personal data | ?(gdpr) | ?gdpr |
    privacy policy at this link | ?cookies and similar | ?third-party cookies | ?clear cookies | ?block cookies
de: wir verwenden cookies | wir setzen auf unserer website cookies | cookies und andere technologien |
    ?verwendet cookies | ?nutzt cookies | ?einsatz von cookies | cookies ermoglichen | cookie-einstellungen |
    cookies akzeptieren | ?alle akzeptieren | ?datenschutzerklarung | ?datenschutzeinstellungen |
    ?erklaren sie sich mit | ?einverstanden | ?ihre einwilligung | ?ihre zustimmung | zustimmung widerrufen |
    durch die weitere nutzung | ?personenbezogene daten | ?personenbezogener daten
fr: nous utilisons des cookies | ce site utilise des cookies | ?utilise des cookies | ?utilisation de cookies |
    ?utilisation des cookies | accepter les cookies | ?tout accepter | ?politique de confidentialite |
    ?vos donnees personnelles | ?donnees personnelles | en poursuivant votre navigation | ?votre consentement |
    gestion des cookies | parametrer les cookies | ?nos partenaires
es: utilizamos cookies | usamos cookies | ?utiliza cookies | ?uso de cookies | aceptar cookies | ?aceptar todas |
    politica de cookies | si continua navegando | ?su consentimiento | ?tu consentimiento | ?datos personales |
    aceptar y cerrar
it: utilizziamo i cookie | utilizziamo cookie | ?questo sito utilizza | ?utilizza cookie | ?uso dei cookie |
    accetta i cookie | ?accetta tutti | ?informativa sulla privacy | ?informativa privacy | cookie policy |
    proseguendo la navigazione | ?il tuo consenso | ?dati personali | accetta e chiudi
pl: w celu uzyskania zgody | przetwarzac adres ip | pliki cookie i podobne | ?pliki cookie | ?plikow cookie |
    ?plikach cookie | uzywamy cookie | ?polityka prywatnosci | ?twoje zgody | ?zgody na | ?mojej zgody |
    wycofac te zgode | wycofanie zgody | wycofanie przeze mnie zgody | zgodnosc z prawem przetwarzania |
    ?przetwarzaniem danych osobowych | ?tresci marketingowych | ?polityki bezpieczenstwa |
    ?polityce bezpieczenstwa | ?szanowny czytelniku | ?drogi czytelniku | ?drogi uzytkowniku | ?twojej zgody |
    ?administrator danych | przez mnie zgody | ?2016/679 | ?polityce prywatnosci | ?polityki prywatnosci |
    wyrazasz zgode | wyrazaja panstwo zgode | wyrazisz zgode | zgode na przetwarzanie | zgode mozesz |
    wycofac zgode | ?przetwarzanie danych | ?przetwarzaniu twoich danych | ?dane osobowe | ?danych osobowych |
    ?rodo | ?zaakceptuj | ?administratorem twoich danych | ?administrator tych danych | ?zaufanych partnerow |
    ?twoich danych | ?twoja prywatnosc | ?przetwarzamy | ?dane sa przetwarzane
ru: мы используем файлы cookie | мы используем cookie | ?файлы cookie | ?файлов cookie | ?использование cookie |
    ?политика конфиденциальности | ?политикой конфиденциальности | ?персональных данных | ?персональные данные |
    ?вы соглашаетесь | ?согласие на обработку | продолжая использовать | продолжая пользоваться
tr: ?cerez | ?cerezler | cerez politikasi | cerezleri kabul | cerezler kullan | cerez kullan | ?kisisel veriler |
    ?kisisel verilerin | ?kvkk | ?gizlilik politikasi | ?aydınlatma metni | ?aydinlatma metni | ?kabul et~ |
    ?kabul ediyorum
ar: ملفات تعريف الارتباط | الكوكيز | ?سياسة الخصوصية | ?البيانات الشخصية | ?موافقتك | توافق على استخدام
zh: 启用cookie | 启用 cookie | 使用cookie | 使用 cookie | ?隐私政策 | ?隐私权政策 | ?个人信息 | ?个人数据 |
    ?同意我们 | ?您同意 | 必须启用 cookie | 必须启用cookie | 未设置 cookie | 第三方 cookie | 清除 cookie
id: kami menggunakan cookie | ?menggunakan cookie | ?kebijakan privasi | ?data pribadi | ?persetujuan anda |
    ?anda menyetujui
    """,
    ADBLOCK: """
all: you are using adblock | you're using an ad | you are using an ad | wyłacz adblock | disable adblock |
    deaktivieren sie ihren werbeblocker | desactive su bloqueador | desactivando su bloqueador | disattiva adblock |
    отключите блокировщик | reklam engelleyicinizi | 请关闭广告拦截 | nonaktifkan adblock |
    desactivez votre bloqueur | ?ad blocker | ?ad-blocker | ?adblock | ?ublock | disable your ad |
    using an ad blocker | whitelist our | ?werbeblocker | ?bloqueur de publicite | ?bloqueur de pub |
    bloqueando anuncios | ?bloqueador de anuncios | ?blocco degli annunci | ?blocco pubblicita |
    ?blokowania reklam | ?blokowanie reklam | dodaj wyjatek | ?блокировщик рекламы | ?reklam engelleyici |
    ?广告拦截 | ?广告屏蔽 | ?مانع الإعلانات | ?حاجب الإعلانات | ?pemblokir iklan | the ads aren't that bad
    """,
    PAYWALL: """
en: subscribe to continue | subscribe to read | subscribe now | subscribe today | subscribers only |
    ?for subscribers | exclusive to subscribers | ?to continue reading | continue reading with | get full access |
    ?full access to | unlimited digital access | ?unlimited access | per week for the first |
    per month for the first | already a subscriber | already subscribed | print subscriber | activate your account |
    ?register now | once registered, you can | read additional free articles | free articles remaining |
    free articles left | ?you have reached your | sign up for free access | ?to read the full |
    ?read the full article | ?read the full story | subscription required | purchase a subscription |
    no ads and just the article
de: jetzt abonnieren | nur fur abonnenten | mit einem abo weiterlesen | lesen sie mit einem abo |
    ?jetzt weiterlesen | abonnieren sie | abo abschließen | abo abschliessen | weiterlesen mit | plus-artikel |
    fur abonnenten | exklusiv fur abonnenten | bereits abonnent | schon abonnent | zugang zu allen artikeln |
    alle artikel lesen | ?jetzt testen | ?digitalabo | ?digital-abo | ?im ersten monat | plus-inhalte |
    freie inhalte im monat | ihre vorteile auf einen blick
fr: abonnez-vous | la suite est reservee | reserve a nos abonnes | reserve aux abonnes | reservee aux abonnes |
    deja abonne | article reserve | ?pour lire la suite | lire la suite de cet article | offre d'abonnement |
    s'abonner pour
es: suscribete para | hazte suscriptor | contenido exclusivo para | suscribase para | solo para suscriptores |
    exclusivo para suscriptores | ya eres suscriptor | ya soy suscriptor | ?para seguir leyendo |
    ?para continuar leyendo | compre una suscripcion | ?acceso ilimitado
it: abbonati per leggere | abbonati per continuare | contenuto riservato | ?abbonati ora | gia abbonato |
    riservato agli abbonati | ?per continuare a leggere | ?accesso illimitato | solo per gli abbonati |
    senza pubblicita e solo l'articolo
pl: wykup dostep | kup subskrypcje | tresc dostepna dla | wykup prenumerate | wykup subskrypcje | dostep premium |
    tresc premium | dostepny tylko dla | dla prenumeratorow | dla subskrybentow | aby czytac dalej
ru: оформите подписку | доступна только подписчикам | оформить подписку | только для подписчиков | ?полный доступ |
    ?чтобы продолжить чтение | уже подписаны | ?неограниченный доступ | ?для подписчиков |
    подписаться на полный доступ | действующий подписчик | приобрести подписку | не являетесь подписчиком
tr: abone ol~ | bu icerik abonelere | abonelere ozel | ?okumaya devam etmek icin | abonelik satın | abonelik satin
ar: اشترك الآن | للمشتركين فقط | ?لمواصلة القراءة | اشترك للقراءة
zh: ?阅读全文 | 已经是会员 | 已是会员 | 订阅以阅读 | 付费订阅 | ?付费内容 | ?会员专享 | 订阅后阅读
id: khusus pelanggan | ?konten premium | berlangganan untuk membaca | langganan untuk membaca | ?akses penuh
    """,
    UNAVAILABLE: """
en: this article is unavailable | article is unavailable | this article is no longer available |
    ?sorry for the inconvenience | ?we apologize for the inconvenience | ?return to the homepage |
    ?back to the homepage | ?the link you followed | ?may have been moved or deleted | ?is no longer available |
    this content is not available | content is not available in your | ?not available in your country |
    ?not available in your region | page not found | page cannot be found | page could not be found |
    the page you are looking for | the page you requested | this page doesn't exist | this page does not exist |
    ?has been removed | ?has been deleted | article not found | ?we couldn't find
de: seite nicht gefunden | seite wurde nicht gefunden | artikel ist nicht mehr verfugbar | ?zur startseite |
    ?entschuldigen sie die unannehmlichkeiten | ?der link ist veraltet | ?nicht mehr verfugbar |
    artikel nicht gefunden | seite existiert nicht | ?wurde entfernt | ?wurde geloscht | inhalt ist nicht verfugbar
fr: page introuvable | page non trouvee | cette page n'existe pas | ?n'est plus disponible | ?retour a l'accueil |
    ?nous nous excusons pour la gene occasionnee | article indisponible | contenu indisponible | ?a ete supprime |
    n'est pas disponible dans votre
es: pagina no encontrada | no se ha encontrado la pagina | la pagina que buscas | ?ya no esta disponible |
    ?volver a la portada | ?disculpe las molestias | ?no esta disponible | articulo no disponible |
    ?ha sido eliminado | ?ha sido eliminada
it: pagina non trovata | ?non e piu disponibile | articolo non disponibile | contenuto non disponibile |
    ?e stato rimosso | ?e stato eliminato | la pagina che stai cercando
pl: strona nie zostala znaleziona | nie znaleziono strony | artykul jest niedostepny | artykuł jest niedostepny |
    tresc jest niedostepna | ?zostal usuniety | ?została usunieta | ?zostala usunieta
ru: страница не найдена | статья недоступна | статья не найдена | материал недоступен | ?была удалена |
    ?был удален | страница не существует | ?недоступен в вашем регионе
tr: sayfa bulunamadı | sayfa bulunamadi | haber bulunamadı | haber bulunamadi | icerik kaldırılmıstır |
    icerik kaldirilmistir | ?yayından kaldırıldı | ?yayindan kaldirildi | ?mevcut degil
ar: الصفحة غير موجودة | لم يتم العثور على الصفحة | المقال غير متوفر | ?غير متوفر حاليا | ?تم حذف
zh: 此文章不可用 | 该内容已被删除 | 此内容已被删除 | 文章暂时不可用 | ?暂时不可用 | ?不可用 | 页面不存在 |
    文章不存在 | 内容不存在 | ?已被删除 | ?已删除 | ?给您带来的不便 | ?深表歉意 | ?链接已经失效 | ?链接已失效 |
    ?返回首页 | 找不到该页面 | 找不到页面 | ?无法找到
id: halaman tidak ditemukan | artikel tidak ditemukan | ?tidak tersedia | ?telah dihapus | konten tidak tersedia
    """,
    ERROR: """
all: 404 not found | error 404 | 404 error | error 500 | fehler 500 | error 502 | error 503 |
    500 internal server error | ?internal server error | 502 bad gateway | 503 service unavailable |
    ?service unavailable | ?something went wrong | ?an error occurred | ?an error has occurred |
    ?ein fehler ist aufgetreten | fehler 404 | ?une erreur s'est produite | ?une erreur est survenue |
    ?se ha producido un error | ?ha ocurrido un error | ?si e verificato un errore | ?wystapił błąd |
    ?wystapil blad | ?wystąpił blad | ?произошла ошибка | ошибка 404 | ?bir hata olustu | ?bir hata oluştu |
    ?حدث خطأ | ?出错了 | ?发生错误 | ?服务器错误 | ?terjadi kesalahan
    """,
    LOGIN: """
all: ?sign in | ?log in | ?login | ?username | ?password | forgot your password | remember me | ?create an account |
    ?don't have an account | ?anmelden | ?einloggen | ?passwort | ?kennwort | ?benutzername | angemeldet bleiben |
    ?se connecter | ?mot de passe | ?identifiant | ?creer un compte | ?iniciar sesion | ?contrasena |
    ?nombre de usuario | recordarme | ?accedi | ?nome utente | ricordami | ?zaloguj | ?hasło | ?haslo |
    ?nazwa uzytkownika | zapamietaj mnie | ?войдите | ?войти | ?пароль | ?логин | запомнить меня | ?giris yap |
    ?giriş yap | ?sifre | ?şifre | ?kullanıcı adı | ?kullanici adi | beni hatırla | ?تسجيل الدخول | ?كلمة المرور |
    ?اسم المستخدم | ?登录 | ?登入 | ?密码 | ?用户名 | ?kata sandi | ?nama pengguna | lupa kata sandi
    """,
    NEWSLETTER: """
en: ?newsletter | ?email alerts | ?news alerts | enter your email | ?your email address | invalid email |
    thank you for subscribing | thanks for subscribing | could not subscribe | sign up! | ?sign up to |
    ?sign up for | ?delivered to your inbox | ?in your inbox | ?we'll send
de: ?e-mail-adresse | ?ihre e-mail | ?jetzt anmelden
fr: ?inscrivez-vous | ?votre adresse e-mail | ?votre adresse email | ?lettre d'information
es: ?boletin | correo electronico no valido | registrese para recibir | gracias por suscribirse |
    no se pudo suscribir
it: iscriviti per ricevere | email non valida | grazie per esserti iscritto
pl: ?zapisz sie | ?adres e-mail
ru: ?рассылк | ?подпишитесь на | ?по электронной почте | спасибо за подписку | ?адрес электронной почты |
    не удалось подписаться
tr: ?e-bulten | ?bultenimize | e-posta adresinizi
ar: ?النشرة البريدية | ?بريدك الإلكتروني
zh: 电子邮件提醒 | ?时事通讯 | ?收件箱 | 感谢您订阅 | 无效的电子邮件
id: ?alamat email | ?berlangganan newsletter
    """,
}

# When two reasons cover as much text, the first of this order names the page.
_ORDER = (CAPTCHA, UNAVAILABLE, ERROR, CONSENT, ADBLOCK, PAYWALL, SCRIPT, LOGIN, NEWSLETTER)

_LANGUAGE_LABEL = re.compile(r"^(?:[a-z]{2}|all): ")
_SEGMENT_END = re.compile(r"\n+|(?<=[.!?])\s+|(?<=[。！？!?؟])")
_CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK = re.compile(f"[{_CJK_RANGES}]")
_TOKEN = re.compile(f"[{_CJK_RANGES}]|[^\\W_{_CJK_RANGES}]+")  # a CJK character is a word


# Letters that ``normalize`` keeps (they are letters of their own, not accented ones) but
# that scraped and typed text writes both ways: Polish "połączeń" / "polaczen", Turkish
# "olmadığınızı" / "olmadiginizi".
_PLAIN_LETTERS = (("ł", "l"), ("ı", "i"), ("ø", "o"), ("đ", "d"))


def _fold(text: str) -> str:
    folded = normalize(text)
    # Replaced one by one where present: str.translate looks every character up in a
    # dictionary (0.3 ms for a 4 kB article), a search for one character is a C scan.
    for letter, plain in _PLAIN_LETTERS:
        if letter in folded:
            folded = folded.replace(letter, plain)
    return folded


def phrases(reason: str) -> list[str]:
    """The phrases of one reason, out of its block in ``PHRASES``."""
    found: list[str] = []
    for line in PHRASES[reason].strip().splitlines():
        found.extend(phrase.strip() for phrase in _LANGUAGE_LABEL.sub("", line.strip()).split("|"))
    return [phrase for phrase in found if phrase]


@dataclass(frozen=True, slots=True)
class _Phrase:
    reason: str
    weak: bool  # also said in news prose: counts only in a text that has a strong phrase
    length: int
    starts_word: bool  # must start at the start of a word
    ends_word: bool  # must end at the end of a word ("~")


@cache
def _automaton() -> ahocorasick.Automaton:
    """Every phrase in one automaton: one pass over a segment finds them all."""
    automaton = ahocorasick.Automaton()
    for reason in _ORDER:
        for phrase in phrases(reason):
            folded = _fold(phrase.lstrip("?").rstrip("~"))
            starts_word = folded[:1].isalnum() and not _CJK.match(folded[:1])
            found = _Phrase(reason, phrase.startswith("?"), len(folded), starts_word, phrase.endswith("~"))
            # The same words under two reasons: the earlier reason in _ORDER keeps them.
            if folded not in automaton:
                automaton.add_word(folded, found)
    automaton.make_automaton()
    return automaton


def _is_word_char(text: str, at: int) -> bool:
    return 0 <= at < len(text) and (text[at].isalnum() and not _CJK.match(text[at]))


def _phrases_in(segment: str) -> Iterator[tuple[int, int, _Phrase]]:
    """Start, end and kind of each wall phrase in a normalised segment."""
    for last, found in _automaton().iter(segment):
        start, end = last + 1 - found.length, last + 1
        if found.starts_word and _is_word_char(segment, start - 1):
            continue
        if found.ends_word and _is_word_char(segment, end):
            continue
        yield start, end, found


def _tokens(normalized: str) -> list[tuple[int, int, float]]:
    """Start, end and weight of each word (a CJK character weighing ``CJK_WORD``)."""
    return [(m.start(), m.end(), CJK_WORD if _CJK.match(m.group()) else 1.0) for m in _TOKEN.finditer(normalized)]


def _segments(text: str) -> Iterable[str]:
    for piece in _SEGMENT_END.split(text):
        folded = _fold(piece)
        if folded:
            yield folded


def _wall_words(tokens: list[tuple[int, int, float]], hits: list[tuple[int, int, _Phrase]]) -> dict[str, float]:
    """Words of a segment (its ``tokens``) near the wall phrases ``hits``, per reason.

    Scraped text often has no sentence ends ("Invalid Email A barmaid who worked..."),
    so a phrase claims the words around it, up to ``NEAR_WORDS`` either side, not the
    whole run-on segment.
    """
    claimed: dict[int, str] = {}
    for start, end, reason in sorted(((s, e, p.reason) for s, e, p in hits), key=lambda hit: _ORDER.index(hit[2])):
        inside = [i for i, (begin, finish, _) in enumerate(tokens) if begin < end and finish > start]
        if inside:
            first, last = inside[0], inside[-1]
            for step, edge in ((-1, first), (1, last)):
                reach, i = 0.0, edge + step
                while 0 <= i < len(tokens) and reach < NEAR_WORDS:
                    reach += tokens[i][2]
                    claimed.setdefault(i, reason)
                    i += step
            for i in range(first, last + 1):
                claimed.setdefault(i, reason)
    words: dict[str, float] = {}
    for i, reason in claimed.items():
        words[reason] = words.get(reason, 0.0) + tokens[i][2]
    return words


def _wall_phrases(title: str, text: str) -> tuple[list[str], list[list[tuple[int, int, _Phrase]]], bool]:
    """The segments of ``text``, the wall phrases in each, and whether one of them is strong."""
    folded_title = _fold(title)
    segments = [segment for segment in _segments(text) if segment != folded_title]  # a repeated headline is neither
    hits = [list(_phrases_in(segment)) for segment in segments]
    # "Personal data", "has been removed", "password": news says them too. Without one
    # phrase only a wall says ("we use cookies", "page not found"), a text is an article.
    strong = any(not found.weak for in_segment in hits for _, _, found in in_segment)
    return segments, hits, strong


def _may_have_strong_phrase(text: str) -> bool:
    """False when no segment of ``text`` holds a strong phrase; True may be a false alarm.

    One pass over the whole text folded at once, instead of cutting and folding it segment
    by segment: folding works character by character (entities and accents stay within a
    word) and collapses the separators between segments into one space, so each folded
    segment is a piece of the folded text, between word boundaries as at its own ends; a
    phrase found across two segments here (a false alarm) is then ruled out by the exact reading.
    """
    return any(not found.weak for _, _, found in _phrases_in(_fold(text)))


def _wall_language(
    segments: list[str], hits: list[list[tuple[int, int, _Phrase]]]
) -> tuple[list[dict[str, float]], list[float]]:
    """Per segment (line or sentence): its words in wall language per reason, and its other words."""
    walls: list[dict[str, float]] = []
    others: list[float] = []
    for segment, in_segment in zip(segments, hits, strict=True):
        if not in_segment:
            walls.append({})
            others.append(len(_TOKEN.findall(segment)) - (1 - CJK_WORD) * len(_CJK.findall(segment)))
            continue
        tokens = _tokens(segment)
        size = sum(weight for _, _, weight in tokens)
        found = _wall_words(tokens, in_segment)
        if set(found) == {LOGIN} and size > LOGIN_WORDS:
            found = {}  # "password" in a sentence is prose; a form's labels are short
        walls.append(found)
        others.append(size - sum(found.values()))
    # A short line between two wall lines ("OK", "Below you find the details.") is part of the wall.
    for i in range(1, len(walls) - 1):
        if not walls[i] and others[i] <= SANDWICH_WORDS and walls[i - 1] and walls[i + 1]:
            reason = max(walls[i - 1], key=walls[i - 1].__getitem__)
            walls[i], others[i] = {reason: others[i]}, 0.0
    return walls, others


def why_not_article(title: str, text: str) -> str | None:
    """Why ``text`` (the body under ``title``) is not an article, or None when it is one.

    The reason is one of the constants above ("consent wall", "captcha", "paywall", ...).
    """
    if not _may_have_strong_phrase(text):
        return None  # most texts: the exact reading below would find no strong phrase either
    segments, hits, strong = _wall_phrases(title, text)
    if not strong:
        return None  # no phrase only a wall says: every segment counts as the article's (most texts)
    walls, others = _wall_language(segments, hits)
    per_reason: dict[str, float] = {}
    for found in walls:
        for reason, words in found.items():
            per_reason[reason] = per_reason.get(reason, 0.0) + words
    wall, other = sum(per_reason.values()), sum(others)
    if not wall:
        return None
    # Newsletter boxes and login links sit on many real article pages: on their own they
    # reject a text only when hardly anything else is there.
    decisive = wall - per_reason.get(NEWSLETTER, 0.0) - per_reason.get(LOGIN, 0.0)
    if decisive / (wall + other) >= WALL_SHARE or (wall / (wall + other) >= STUB_SHARE and other < STUB_WORDS):
        return max(_ORDER, key=lambda reason: (per_reason.get(reason, 0.0), -_ORDER.index(reason)))
    # A teaser cut short by "already a member? log in ... subscribe to read the full text".
    tail = walls[-3:]
    if other < TEASER_WORDS and PAYWALL in tail[-1] and sum(1 for found in tail if found) >= 2:
        return PAYWALL
    return None
