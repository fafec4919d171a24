"""The query language as a table of (query, document, expected) cases, plus errors.

Every case also checks that the presearch automaton finds exactly what evaluating
the query on its own finds (``match`` == ``match_naive``).
"""

from __future__ import annotations

import pytest

from monitor.errors import QueryError
from monitor.model import Document, TopicMatch
from monitor.topics import TopicSet, TopicSpec, explain, parse

YES, NO = True, False
T = ""  # no title

# (query, title, text, language, expected)
CASES: list[tuple[str, str, str, str | None, bool]] = [
    # --- Boolean operators, implicit AND, precedence -------------------------------
    ("TikTok AND ban", T, "Congress votes on a TikTok ban.", "en", YES),
    ("TikTok AND ban", T, "TikTok launches a new feature.", "en", NO),
    ("TikTok ban", T, "The ban on TikTok takes effect.", "en", YES),
    ("TikTok ban", T, "TikTok is popular.", "en", NO),
    ("TikTok OR Douyin", T, "Douyin is the Chinese twin.", "en", YES),
    ("TikTok OR Douyin", T, "Kuaishou grows fast.", "en", NO),
    ("TikTok NOT Shop", T, "TikTok fined in Europe.", "en", YES),
    ("TikTok NOT Shop", T, "TikTok Shop opens in Jakarta.", "en", NO),
    ("TikTok AND NOT Shop", T, "TikTok Shop opens in Jakarta.", "en", NO),
    ("TikTok NOT (Shop OR Live)", T, "TikTok Live goes dark.", "en", NO),
    ("TikTok NOT (Shop OR Live)", T, "TikTok goes dark.", "en", YES),
    ("a OR b AND c", T, "only a here", "en", YES),  # AND binds tighter than OR
    ("a OR b AND c", T, "only b here", "en", NO),
    ("(a OR b) AND c", T, "only a here", "en", NO),
    ("(a OR b) AND c", T, "b and c", "en", YES),
    ("NOT shop AND tiktok", T, "tiktok news", "en", YES),
    ("NOT shop tiktok", T, "tiktok shop news", "en", NO),
    ("tiktok AND (ban OR (block AND court))", T, "court may block tiktok", "en", YES),
    ("tiktok AND (ban OR (block AND court))", T, "users block tiktok", "en", NO),
    ("((tiktok))", T, "TikTok", "en", YES),
    ("and OR or", T, "rock and roll", "en", YES),  # lower-case operators are words
    ("near", T, "a shop near the station", "en", YES),
    # --- phrases --------------------------------------------------------------------
    ('"kecerdasan buatan"', T, "model kecerdasan buatan milik ByteDance", "id", YES),
    ('"kecerdasan buatan"', T, "buatan kecerdasan", "id", NO),
    ('"kecerdasan buatan"', T, "kecerdasan, buatan", "id", YES),  # punctuation is a gap
    ('"intelligence artificielle"', T, "l'Intelligence Artificielle générative", "fr", YES),
    ('"künstliche Intelligenz"', T, "KUENSTLICHE Intelligenz", "de", NO),
    ('"künstliche Intelligenz"', T, "Künstliche Intelligenz im Alltag", "de", YES),
    ('"kunstliche intelligenz"', T, "Künstliche Intelligenz im Alltag", "de", YES),
    ('"artificial intelligence"', T, "artificial general intelligence", "en", NO),
    ("“artificial intelligence”", T, "Artificial intelligence rules", "en", YES),  # curly quotes
    ('"TikTok ban"', "TikTok ban looms", "", "en", YES),
    ('"TikTok ban"', "TikTok", "ban looms", "en", NO),  # a phrase never spans title and body
    ("KI-Modell", T, "das KI-Modell von Bytedance", "de", YES),  # a dashed term is a phrase
    ("KI-Modell", T, "das KI Modell", "de", YES),
    ("KI-Modell", T, "das Modell der KI", "de", NO),
    ("d'IA", T, "un projet d’IA", "fr", YES),  # apostrophes of every kind are alike
    ("aujourd'hui", T, "Aujourd’hui, ByteDance", "fr", YES),
    # --- wildcards -------------------------------------------------------------------
    ("larang*", T, "menghadapi larangan di Amerika", "id", YES),
    ("larang*", T, "TikTok dilarang di Montana", "id", NO),  # a prefix, not an infix
    ("interdi*", T, "une menace d'interdiction fédérale", "fr", YES),
    ("interdi*", T, "Il est interdit de filmer", "fr", YES),
    ("interdi*", T, "une interview exclusive", "fr", NO),
    ("chatbot*", T, "KI-Chatbots aus China", "de", YES),
    ("verbiet*", T, "Die USA verbieten TikTok", "de", YES),
    ('"kecerdasan buatan*"', T, "kecerdasan buatannya sendiri", "id", YES),
    ('"künstlich* Intelligenz"', T, "in die Entwicklung von Künstlicher Intelligenz", "de", YES),
    ('"künstlich* Intelligenz"', T, "künstliche Befruchtung", "de", NO),
    ('"modèle* de langage"', T, "ses grands modèles de langage", "fr", YES),
    ('"language model*"', T, "large language models (LLMs)", "en", YES),
    ("byte*", T, "ByteDance", "en", YES),
    ("AI*", T, "AIGC boom", "en", YES),  # all-caps prefix stays case-sensitive
    ("AI*", T, "aigc boom", "en", NO),
    # --- NEAR / ONEAR ----------------------------------------------------------------
    ("TikTok NEAR/3 ban", T, "a ban on TikTok", "en", YES),
    ("TikTok NEAR/3 ban", T, "TikTok faces a nationwide ban", "en", YES),
    ("TikTok NEAR/1 ban", T, "TikTok faces a nationwide ban", "en", NO),
    ("TikTok ONEAR/5 ban", T, "a ban on TikTok", "en", NO),
    ("ban ONEAR/5 TikTok", T, "a ban on TikTok", "en", YES),
    (
        "TikTok NEAR/5 ban",
        T,
        "Penjual TikTok Shop di Jakarta kini juga menjual aksesori kendaraan seperti ban mobil",
        "id",
        NO,
    ),
    ("TikTok NEAR/5 ban", T, "TikTok ban", "id", YES),
    ("TikTok NEAR/5 (ban OR larangan)", T, "larangan terhadap TikTok", "id", YES),
    ('TikTok NEAR/5 "menace d\'interdiction"', T, "TikTok fait face à une menace d'interdiction", "fr", YES),
    ('"menace d\'interdiction" NEAR/5 TikTok', T, "TikTok fait face à une menace d'interdiction", "fr", YES),
    ("(TikTok OR Douyin) NEAR/2 (Verbot OR Sperre)", T, "ein Verbot für Douyin", "de", YES),
    (
        "(TikTok OR Douyin) NEAR/2 (Verbot OR Sperre)",
        T,
        "Douyin wächst schnell; das neue Verbot kam später für andere Apps",
        "de",
        NO,
    ),
    ("Bytedance NEAR/3 TikTok NEAR/3 Verbot", T, "Bytedance will das TikTok Verbot abwenden", "de", YES),
    (
        "Bytedance NEAR/3 TikTok NEAR/3 Verbot",
        T,
        "Bytedance und TikTok: ein Überblick über Trends, Nutzer, Werbung und am Ende das Verbot",
        "de",
        NO,
    ),
    ("TikTok NEAR/5 ban", "TikTok news", "a ban", "en", NO),  # NEAR stays inside one field
    ("TikTok NEAR/2 TikTok", T, "TikTok", "en", NO),  # one word is not near itself
    ("TikTok NEAR/2 TikTok", T, "TikTok and TikTok", "en", YES),
    # --- fields: title:, body:, lang:, site: ----------------------------------------
    ("title:Doubao", "Doubao tops the charts", "Doubao", "en", YES),
    ("title:Doubao", "Chatbots in China", "Doubao tops the charts", "en", NO),
    ("body:Doubao", "Doubao tops the charts", "nothing", "en", NO),
    ("body:Doubao", "Chatbots", "Doubao tops the charts", "en", YES),
    ("title:(Doubao OR 豆包)", "豆包大模型发布", "", "zh", YES),
    ("title:(ByteDance AND AI)", "ByteDance AI lab", "", "en", YES),
    ("title:(ByteDance AND AI)", "ByteDance lab", "AI", "en", NO),
    ('title:"TikTok ban"', "Senate passes TikTok ban", "", "en", YES),
    ("ByteDance lang:de", T, "Bytedance feuert Praktikanten", "de", YES),
    ("ByteDance lang:de", T, "ByteDance licencie un stagiaire", "fr", NO),
    ("ByteDance lang:(de OR fr)", T, "ByteDance licencie un stagiaire", "fr", YES),
    ("ByteDance lang:(de OR fr)", T, "ByteDance memecat karyawan", "id", NO),
    ("ByteDance NOT lang:id", T, "ByteDance memecat karyawan", "id", NO),
    ("ByteDance NOT lang:id", T, "ByteDance fires an intern", "en", YES),
    ("ByteDance lang:de", T, "Bytedance feuert Praktikanten", None, NO),  # unknown language
    # --- case: the marker and short all-caps words ---------------------------------
    ("AI", T, "ByteDance said it would invest", "en", NO),
    ("AI", T, "j'ai vu le modèle", "fr", NO),
    ("AI", T, "J'AI vu le modèle", "fr", YES),  # all-caps text really says AI
    ("AI", T, "model AI generatif", "id", YES),
    ("AI", T, "Ai Weiwei exhibits in Berlin", "en", NO),
    ("ai", T, "Ai Weiwei exhibits in Berlin", "en", YES),  # lower case: insensitive
    ("AI", T, "la rai diffuse", "fr", NO),
    ("AI", T, "Main office in Shanghai", "en", NO),
    ("KI", T, "das KI-Modell", "de", YES),
    ("KI", T, "ein Kiosk am Kiez", "de", NO),
    ("KI", T, "Ki Hajar Dewantara", "id", NO),
    ("IA", T, "projet d'IA", "fr", YES),
    ("IA", T, "Ia mengaku bekerja di tim AI Lab", "id", NO),
    ("IA", T, "Asia and Australia", "en", NO),
    ("LLM", T, "Large Language Model (LLM) mereka", "id", YES),
    ("LLM", T, "induk-tiktok-bytedance-kembangkan-llm-lego", "id", NO),
    ("llm", T, "induk-tiktok-bytedance-kembangkan-llm-lego", "id", YES),
    ("!Apple", T, "Apple sues", "en", YES),
    ("!Apple", T, "an apple a day", "en", NO),
    ("Apple", T, "an apple a day", "en", YES),
    ('!"Open AI"', T, "Open AI dan Microsoft", "id", YES),
    ('!"Open AI"', T, "open ai dan Microsoft", "id", NO),
    ("!Bytedance", T, "ByteDance", "en", NO),
    ("!Bytedance", T, "Bytedance", "en", YES),
    ("!Sabotage", T, "die Sabotage", "de", YES),
    ("!Sabotage", T, "Sabotagevorwürfe", "de", NO),  # case-sensitive words are whole words
    # --- normalisation: accents, entities, dashes, width, casefold ------------------
    ("propriétaire", T, "le PROPRIETAIRE de TikTok", "fr", YES),
    ("proprietaire", T, "le propriétaire de TikTok", "fr", YES),
    ("Übernahmen", T, "#Ubernahmen-Fussion", "de", YES),
    ("Straße", T, "STRASSE", "de", YES),
    ("États-Unis", T, "aux Etats Unis", "fr", YES),
    ("États-Unis", T, "aux États–Unis", "fr", YES),  # en dash
    ("Tiongkok", T, "pemerintah Tio&shy;ngkok", "id", NO),  # soft hyphen splits a word
    ("AT&T", T, "AT&amp;T buys", "en", YES),
    ("café", T, "un caf&eacute; à Paris", "fr", YES),
    ("ByteDance", T, "ＢｙｔｅＤａｎｃｅ", "ja", YES),  # full-width letters
    ("ByteDance", T, "BYTEDANCE", "en", YES),
    ("Ernie", T, "Ernie dari Baidu", "id", YES),
    # --- word boundaries -------------------------------------------------------------
    ("ban", T, "a banana split", "en", NO),
    ("ban", T, "Urban areas", "en", NO),
    ("ban", T, "the ban.", "en", YES),
    ("ban", T, "(ban)", "en", YES),
    ("TikTok", T, "#TikTok trends", "en", YES),
    ("TikTok", T, "TikTokers are upset", "en", NO),
    ("Bytedance", T, "ByteDance’s intern", "en", YES),
    ("Doubao", T, "Doubao-Pro launched", "en", YES),
    ("GPT", T, "ChatGPT-ähnliches KI-Modell", "de", NO),
    ("8000", T, "8.000 unit GPU", "id", NO),
    ('"8 000"', T, "jusqu'à 8 000 unités", "fr", YES),
    # --- compounds (de, nl, sv, da, no), never short terms -------------------------
    ("Sabotage", T, "aufgrund von Sabotagevorwürfen entlassen", "de", YES),
    ("Sabotage", T, "sabotagevorwürfe", "en", NO),  # not a compounding language
    ("Verbot", T, "Das TikTok-Verbot kommt", "de", YES),
    ("Verbot", T, "Das Tiktokverbot kommt", "de", YES),
    ("Verbot", T, "Die Verbote kommen", "de", YES),
    ('"Verbot"', T, "Das Tiktokverbot kommt", "de", NO),  # quotes mean exact
    ("KI", T, "Die KIRCHE", "de", NO),
    ("Bann", T, "Bannerwerbung im Netz", "de", NO),  # four letters: whole words only
    ("verbod", T, "het TikTokverbod gaat in", "nl", YES),  # 6 letters, Dutch
    ("forbud", T, "TikTokforbud i Danmark", "da", YES),
    ("förbud", T, "regeringen inför TikTokförbud", "sv", YES),
    ("forbud", T, "TikTokforbud i Norge", "no", YES),
    # --- scripts written without spaces ----------------------------------------------
    ("豆包", T, "字节跳动发布豆包大模型", "zh", YES),
    ("字节跳动", T, "字节跳动发布豆包大模型", "zh", YES),
    ("字节跳动", T, "字节发布跳动", "zh", NO),
    ("豆包", T, "豆沙包", "zh", NO),
    ("豆包 AND AI", T, "字节跳动的豆包AI助手", "zh", YES),
    ("抖音 NEAR/3 禁令", T, "美国对抖音的禁令", "zh", YES),
    ("バイトダンス", T, "バイトダンスはAIを開発", "ja", YES),
    ("バイトダンス", T, "バイトタンス", "ja", NO),  # voicing marks are not accents
    ("틱톡", T, "미국의 틱톡금지법", "ko", YES),
    ("틱톡 금지", T, "틱톡 금지 법안", "ko", YES),
    ("ติ๊กต็อก", T, "แอปติ๊กต็อกถูกแบน", "th", YES),
    ("ТикТок", T, "запрет ТИКТОК в России", "ru", YES),
    ("запрет", T, "запретить", "ru", NO),
    ("حظر", T, "حظر تيك توك في أمريكا", "ar", YES),
    ("टिकटॉक", T, "भारत में टिकटॉक पर प्रतिबंध", "hi", YES),
    ("टिकटॉक", T, "टिकट", "hi", NO),
    ("Τικ", T, "Το τικ τοκ", "el", YES),
]


def _compile(query: str, *, stem: bool = False) -> TopicSet:
    return TopicSet.compile([TopicSpec("t", query, stem)])


def _doc(title: str, text: str, language: str | None, url: str = "") -> Document:
    return Document(title=title, text=text, language=language, url=url)


@pytest.mark.parametrize(("query", "title", "text", "language", "expected"), CASES)
def test_query_table(query: str, title: str, text: str, language: str | None, expected: bool) -> None:
    topics = _compile(query)
    doc = _doc(title, text, language)
    found = topics.match(doc)
    assert bool(found) is expected
    assert found == topics.match_naive(doc)


# (query, text, language, expected) with per-topic stemming switched on
STEMMED: list[tuple[str, str, str | None, bool]] = [
    ("sabotase", "karyawan magang yang diduga menyabotase model AI", "id", YES),
    ("sabotase", "karyawan magang yang diduga menyabotase model AI", None, NO),  # no language
    ("larangan", "TikTok dilarang di Montana", "id", YES),
    ("larangan", "pemerintah melarang aplikasi itu", "id", YES),
    ('"larangan"', "TikTok dilarang di Montana", "id", NO),  # quotes: exact
    ("Verbot", "die Verbote der Regierung", "de", YES),
    ("interdiction", "les interdictions se multiplient", "fr", YES),
    ("ban", "Montana banned TikTok", "en", YES),
    ("ban", "a banana", "en", NO),
    ("saboter", "un stagiaire a saboté le projet", "fr", YES),
    ("intern", "ByteDance fired the interns", "en", YES),
    ("larang*", "menghadapi larangan", "id", YES),  # a wildcard is never stemmed
    ("AI", "the AIs are here", "en", NO),  # case-sensitive words are never stemmed
    ("TikTok NEAR/3 larangan", "TikTok resmi dilarang", "id", YES),
    ("KI-Modelle", "das KI Modell", "de", YES),  # bare multi-word terms are stemmed
]


@pytest.mark.parametrize(("query", "text", "language", "expected"), STEMMED)
def test_stemming_uses_the_document_language(query: str, text: str, language: str | None, expected: bool) -> None:
    topics = _compile(query, stem=True)
    doc = _doc("", text, language)
    found = topics.match(doc)
    assert bool(found) is expected
    assert found == topics.match_naive(doc)


def test_stemming_is_off_unless_asked() -> None:
    assert not _compile("sabotase").match(_doc("", "diduga menyabotase model AI", "id"))


@pytest.mark.parametrize(
    ("query", "url", "expected"),
    [
        ("ByteDance site:heise.de", "https://www.heise.de/news/bytedance-123.html", YES),
        ("ByteDance site:heise.de", "https://heise.de/news", YES),
        ("ByteDance site:heise.de", "https://notheise.de/news", NO),
        ("ByteDance site:heise.de", "https://heise.de.evil.example/news", NO),
        ("ByteDance site:www.heise.de", "https://heise.de/news", NO),
        ("ByteDance site:(lemonde.fr OR numerama.com)", "https://www.numerama.com/x", YES),
        ("ByteDance NOT site:example.com", "https://news.example.com/a", NO),
        ("ByteDance site:heise.de", "not a url", NO),
        ("ByteDance site:bücher.de", "https://www.xn--bcher-kva.de/a", YES),
        ("ByteDance site:detik.com", "https://inet.detik.com:443/a", YES),
    ],
)
def test_site_matches_the_host_and_its_parent_domains(query: str, url: str, expected: bool) -> None:
    topics = _compile(query)
    assert bool(topics.match(_doc("", "ByteDance news", "en", url))) is expected


# (query, message) — the whole message, so the column and wording are pinned down
ERRORS: list[tuple[str, str]] = [
    ("", "the query is empty; write at least one term"),
    ("   ", "the query is empty; write at least one term"),
    ("TikTok AND", 'column 11: expected a term or "(" after AND'),
    ("TikTok AND )", 'column 12: expected a term or "(" after AND, found )'),
    ("TikTok OR", 'column 10: expected a term or "(" after OR'),
    ("TikTok NOT", 'column 11: expected a term or "(" after NOT'),
    ("AND TikTok", 'column 1: expected a term or "(", found AND'),
    ("OR TikTok", 'column 1: expected a term or "(", found OR'),
    ("(TikTok", 'column 8: expected ")" to close the "(" at column 1, found the end of the query'),
    ("TikTok)", 'column 7: unexpected ")" without a matching "("'),
    (")", 'column 1: expected a term or "(", found ")" without a matching "("'),
    ("()", 'column 2: expected a term or "(", found ")" without a matching "("'),
    ('"TikTok ban', 'column 1: unterminated phrase: expected a closing "'),
    ('ban ""', "column 5: empty phrase: put words between the quotes"),
    ("TikTok NEAR ban", "column 8: expected a number after NEAR/ (e.g. NEAR/5)"),
    ("TikTok NEAR/x ban", "column 8: expected a number after NEAR/ (e.g. NEAR/5)"),
    ("TikTok ONEAR/ ban", "column 8: expected a number after ONEAR/ (e.g. ONEAR/5)"),
    ("TikTok NEAR/5000 ban", "column 8: NEAR distance must be 1 to 1000"),
    (
        "TikTok NEAR/0 ban",
        'column 13: NEAR/0 is not a distance: write adjacent words as a phrase, "a b" (or "a b" OR "b a")',
    ),
    ("TikTok NEAR/5", 'column 14: expected a term or "(" after NEAR/5'),
    ("TikTok NEAR/5 NOT ban", "column 8: NEAR/5 needs a term, phrase or (… OR …) group on each side, found NOT"),
    ("(a AND b) NEAR/5 c", "column 11: NEAR/5 needs a term, phrase or (… OR …) group on each side, found an AND group"),
    ("a NEAR/5 lang:de", "column 3: NEAR/5 needs a term, phrase or (… OR …) group on each side, found lang:"),
    ("NOT TikTok", "column 1: the query has only NOT clauses, so it requires nothing; add a term it must contain"),
    ("NOT a NOT b", "column 1: the query has only NOT clauses, so it requires nothing; add a term it must contain"),
    ("a OR NOT b", "column 6: NOT cannot be an OR branch on its own; write (a OR b) AND NOT c"),
    ("TikTok AND NOT TikTok", "column 1: the query can never match: it requires TikTok and NOT TikTok"),
    ("ByteDance lang:de lang:fr", "column 1: the query can never match: lang:de and lang:fr exclude each other"),
    ("a AND NOT NOT b", "column 11: NOT NOT cancels out; write the term without NOT"),
    ("te*st", 'column 1: "te*st": * is only allowed at the end of a term'),
    ("*", "column 1: a wildcard needs at least 2 letters before *"),
    ("a*", "column 1: a wildcard needs at least 2 letters before *"),
    ("-shop tiktok", 'column 1: "-shop": write NOT shop to exclude a term'),
    ("+shop tiktok", 'column 1: "+shop": every term is required already; drop the "+"'),
    (
        "tiktok &&",
        'column 8: "&&" is not a term (no letters or digits); the operators are AND, OR, NOT, NEAR/n, ONEAR/n',
    ),
    ("! AI", "column 1: expected a term or phrase right after the ! marker"),
    (
        "foo:bar",
        'column 1: unknown field "foo:"; the fields are title:, body:, lang: and site: '
        '(put the term in quotes to search for "foo:bar" as written)',
    ),
    ("title: TikTok", "column 7: expected a value right after title:"),
    ("title:)", "column 7: expected a value right after title:"),
    ("lang:german", 'column 6: "german" is not a language code; write e.g. lang:de or lang:id'),
    ("lang:(de fr)", 'column 10: expected OR or ")" in lang:( ... ), found "fr"'),
    ('lang:"de"', "column 6: expected a value such as lang:de"),
    (
        "site:http://x.com",
        'column 6: unknown field "http:"; the fields are title:, body:, lang: '
        'and site: (put the term in quotes to search for "http://x.com" as written)',
    ),
    ("site:exa_mple.com", 'column 6: "exa_mple.com" is not a domain; write e.g. site:example.com'),
    ("title:(lang:de)", "column 8: lang: cannot be used inside title:( ... )"),
    ("title:(body:x)", "column 1: body: cannot be used inside title:( ... )"),
    ("(" * 150 + "a" + ")" * 150, "column 101: the query nests deeper than 100 levels"),
    ("x" * 10_001, "the query is longer than 10000 characters"),
    # digits of other scripts would silently be read as a number
    ("a NEAR/١٢ b", "column 8: write the NEAR distance with the digits 0-9, not ١٢"),
    ("a ONEAR/５ b", "column 9: write the ONEAR distance with the digits 0-9, not ５"),
    # characters other query languages use, refused rather than dropped as punctuation
    ("[a]", 'column 1: "[" has no meaning here; group with ( )'),
    ("TikTok {ban}", 'column 8: "{" has no meaning here; group with ( )'),
    ("TikTok ban]", 'column 11: "]" has no meaning here; group with ( )'),
    ("lang:[de] x", 'column 6: "[" has no meaning here; group with ( )'),
    ("TikTok \\", 'column 8: "\\" has no meaning here (there are no escapes); put the term in quotes instead'),
    ("Tik\\Tok", 'column 4: "\\" has no meaning here (there are no escapes); put the term in quotes instead'),
    ("« TikTok ban", 'column 1: unterminated phrase: expected a closing "'),
    ("（TikTok OR Douyin", 'column 18: expected ")" to close the "(" at column 1, found the end of the query'),
]


@pytest.mark.parametrize(("query", "message"), ERRORS)
def test_bad_queries_are_refused_with_one_line(query: str, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse(query)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


# Pasted from a word processor or typed with a CJK input method: read as the ASCII
# characters they stand for.
PASTED: list[tuple[str, str, bool, str | None]] = [
    # (query, text, expected, the phrase's words reordered: must not match)
    ("（TikTok OR Douyin）AND ban", "Douyin ban looms", YES, None),
    ("（TikTok OR Douyin） AND ban", "TikTok is fun", NO, None),
    ("“kecerdasan buatan”", "model kecerdasan buatan", YES, "buatan kecerdasan"),
    ("„künstliche Intelligenz“", "die künstliche Intelligenz", YES, "Intelligenz, künstliche"),
    ("« intelligence artificielle »", "l'intelligence artificielle", YES, "artificielle intelligence"),
    ("»künstliche Intelligenz«", "die künstliche Intelligenz", YES, "Intelligenz künstliche"),
    ("＂TikTok ban＂", "a TikTok ban", YES, "ban TikTok"),
]


@pytest.mark.parametrize(("query", "text", "expected", "reordered"), PASTED)
def test_pasted_parentheses_and_quotes_mean_their_ascii_form(
    query: str, text: str, expected: bool, reordered: str | None
) -> None:
    topics = _compile(query)
    assert bool(topics.match(_doc("", text, None))) is expected
    if reordered is not None:
        assert not topics.match(_doc("", reordered, None))
    ascii_query = query.translate(str.maketrans("（）“”„«»＂", '()""""""'))
    assert explain(query) == explain(ascii_query)


@pytest.mark.parametrize("query", ["TikTok NEAR/0 ban", "TikTok ONEAR/0 ban", "(a OR b) NEAR/00 c"])
def test_near_zero_is_refused_with_its_column_and_the_phrase_to_write(query: str) -> None:
    with pytest.raises(QueryError) as refused:
        _compile(query)
    assert f"column {query.index('/0') + 2}" in str(refused.value)
    assert 'as a phrase, "a b"' in str(refused.value)


def test_brackets_and_backslashes_inside_quotes_are_ordinary_punctuation() -> None:
    topics = _compile('"TikTok [ban]" OR "AC\\DC"')
    assert topics.match(_doc("", "The TikTok ban is near", "en"))
    assert topics.match(_doc("", "AC/DC on tour", "en"))


def test_a_bad_topic_is_named_when_compiling_a_set() -> None:
    with pytest.raises(QueryError) as caught:
        TopicSet.compile([TopicSpec("Doubao", "Doubao OR 豆包"), TopicSpec("TikTok ban", "TikTok AND   )")])
    assert str(caught.value) == ('topic "TikTok ban": column 14: expected a term or "(" after AND, found )')


def test_duplicate_and_empty_topic_names_are_refused() -> None:
    with pytest.raises(QueryError, match='topic "A" is defined twice'):
        TopicSet.compile([TopicSpec("A", "x"), TopicSpec("A", "y")])
    with pytest.raises(QueryError, match="empty name"):
        TopicSet.compile([TopicSpec(" ", "x")])


def test_explain_prints_the_tree() -> None:
    assert explain('ByteDance AND (AI OR "kecerdasan buatan*") NOT title:Shop') == "\n".join(
        [
            "AND",
            "  TERM ByteDance -> bytedance",
            "  OR",
            "    TERM AI -> ai  [case-sensitive]",
            '    PHRASE "kecerdasan buatan*" -> kecerdasan buatan*  [prefix]',
            "  NOT",
            "    TERM title:Shop -> shop  [in title]",
        ]
    )
    assert explain("TikTok ONEAR/3 (ban OR Verbot)").splitlines()[0] == "ONEAR/3"
    assert explain("x lang:(de OR fr) site:heise.de").splitlines()[2:] == [
        "  lang:(de OR fr)",
        "  site:heise.de",
    ]


def test_precedence_is_not_near_and_or() -> None:
    assert explain("a OR b c NEAR/2 d NOT e").splitlines() == [
        "OR",
        "  TERM a -> a",
        "  AND",
        "    TERM b -> b",
        "    NEAR/2",
        "      TERM c -> c",
        "      TERM d -> d",
        "    NOT",
        "      TERM e -> e",
    ]


def _one(query: str, doc: Document, *, stem: bool = False) -> TopicMatch:
    found = _compile(query, stem=stem).match(doc)
    assert len(found) == 1
    return found[0]


def test_hits_point_into_the_original_text() -> None:
    doc = _doc(
        "Bytedance: TikTok-Unternehmen feuert Praktikanten",
        "Caf&eacute; &amp; KI: Bytedance entl&auml;sst wegen Sabotagevorw&uuml;rfen.",
        "de",
    )
    match = _one("Bytedance AND (KI OR Sabotage)", doc)
    assert match.terms == ("Bytedance", "KI", "Sabotage")
    found = [(h.field, (doc.title if h.field == "title" else doc.text)[h.start : h.end]) for h in match.hits]
    assert found == [
        ("title", "Bytedance"),
        ("body", "KI"),
        ("body", "Bytedance"),
        ("body", "Sabotagevorw&uuml;rfen"),
    ]
    assert match.snippet == (
        "Café &amp; <mark>KI</mark>: <mark>Bytedance</mark> entlässt wegen <mark>Sabotagevorwürfen</mark>."
    )


def test_the_clause_is_the_part_of_the_query_that_fired() -> None:
    doc = _doc("", "Le propriétaire de TikTok fait face à une menace d'interdiction.", "fr")
    query = "TikTok NEAR/10 (ban OR interdi*) OR (ByteDance AND ban) NOT Shop"
    assert _one(query, doc).clause == "TikTok NEAR/10 interdi*"


def test_clause_names_the_branch_and_the_exclusions() -> None:
    doc = _doc("", "ByteDance a annoncé un chatbot d'IA.", "fr")
    match = _one("(ByteDance OR Douyin) AND (AI OR IA) NOT Shop", doc)
    assert match.clause == "ByteDance AND IA AND NOT Shop"
    assert match.terms == ("ByteDance", "IA")


def test_scores_favour_title_hits_repeats_and_closeness() -> None:
    body_once = _one("Doubao", _doc("", "Doubao is a chatbot.", "en"))
    title_once = _one("Doubao", _doc("Doubao is a chatbot", "", "en"))
    body_thrice = _one("Doubao", _doc("", "Doubao. Doubao. Doubao.", "en"))
    many = _one("Doubao", _doc("", " ".join(["Doubao."] * 40), "en"))
    assert 0 < body_once.score < body_thrice.score < many.score <= 1
    assert title_once.score > body_once.score
    assert many.score - body_thrice.score < body_thrice.score - body_once.score  # saturates
    close = _one("TikTok NEAR/10 ban", _doc("", "TikTok ban", "en"))
    far = _one("TikTok NEAR/10 ban", _doc("", "TikTok is facing, says the report, a ban", "en"))
    assert close.score > far.score


def test_snippet_is_one_to_three_sentences_around_the_best_hits() -> None:
    text = (
        "Cookie banner text. Subscribe to our newsletter. "
        "ByteDance launched Doubao in May. It competes with Ernie. "
        "Other news follows here. Weather is fine. TikTok is popular."
    )
    match = _one("ByteDance AND Doubao", _doc("", text, "en"))
    assert match.snippet.startswith("<mark>ByteDance</mark> launched <mark>Doubao</mark> in May.")
    assert "Cookie" not in match.snippet and "Weather" not in match.snippet


def test_snippet_escapes_html_and_cuts_long_sentences() -> None:
    text = "<script>alert(1)</script> " + "word " * 200 + "ByteDance " + "word " * 200
    match = _one("ByteDance", _doc("", text, "en"))
    assert "<script>" not in match.snippet
    assert match.snippet.startswith("…") and match.snippet.endswith("…")
    assert "<mark>ByteDance</mark>" in match.snippet
    assert len(match.snippet) < 450
    escaped = _one("Doubao", _doc("", 'Doubao said "<b>hi</b>" & left.', "en"))
    assert escaped.snippet == "<mark>Doubao</mark> said &quot;&lt;b&gt;hi&lt;/b&gt;&quot; &amp; left."


def test_title_only_matches_show_the_title() -> None:
    match = _one("Doubao", _doc("Doubao & friends", "Nothing here.", "en"))
    assert match.snippet == "<mark>Doubao</mark> &amp; friends"


def test_many_topics_results_are_sorted_by_name() -> None:
    topics = TopicSet.compile([TopicSpec("zeta", "TikTok"), TopicSpec("alpha", "ByteDance"), TopicSpec("mid", "Shop")])
    assert topics.names == ("alpha", "mid", "zeta")
    found = topics.match(_doc("", "ByteDance owns TikTok.", "en"))
    assert [m.topic for m in found] == ["alpha", "zeta"]


def test_the_table_is_big_enough() -> None:
    assert len(CASES) + len(STEMMED) + len(ERRORS) >= 150
