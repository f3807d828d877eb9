"""The texts the parity files cover: every tokenizer path and the truncation boundary."""

SHORT = [
    "Hello world",
    "hello",
    "a",
    "I",
    "The quick brown fox jumps over the lazy dog.",
    "What is the boundary layer thickness of a flat plate?",
    "how do cancer cells spread",
    "information retrieval evaluation measures",
    "Does aspirin reduce the risk of heart attack?",
    "supersonic flow past a wedge",
    "The patient was treated with 5 mg/kg of methotrexate.",
    "Self-attention lets every token look at every other token.",
    "UNITED STATES OF AMERICA",
    "CamelCaseIdentifierName and snake_case_identifier",
    "don't can't won't it's",
    "e-mail re-entry co-operate",
    "U.S.A. vs. U.K.",
    "state-of-the-art retrieval-augmented generation",
    "unbelievable unaffordable antidisestablishmentarianism",
    "the the the the the",
]

PUNCTUATION = [
    "Hello, world! How are you? I'm fine; thanks: (really) [yes] {ok}.",
    "!!!???...",
    "\"quoted\" 'single' `backtick` «guillemets» „German“ “curly” ‘single curly’",
    "em—dash en–dash hyphen-minus ellipsis… bullet • middle·dot",
    "#hashtag @mention $100 50% a&b a*b a+b a=b a<b a>b a|b a~b a^b a\\b",
    "¿Qué? ¡Hola! 「日本」『引用』【括弧】",
    "§ 12 ¶ 3 † ‡ © ® ™ ° ± × ÷",
    "----====____",
    "www.example.com/path?query=1&x=2#frag",
    "user.name+tag@example.co.uk",
]

ACCENTS = [
    "Café naïve résumé façade coöperate",
    "Ångström Øre Æsir Œuvre",
    "Straße Fußball GROSSE",
    "İstanbul ıspanak",
    "ΟΔΟΣ Σοφία ΣΟΦΊΑ άλφα",
    "Москва Ёлка привет",
    "Tiếng Việt có dấu: Hà Nội, Đà Nẵng",
    "Crème brûlée à la carte",
    "ǅemal ǈubljana ǋegoš",
    "e\u0301 composed with a combining acute",
    "ﬁnance ﬂow (ligatures)",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３",
    "ℌ𝔢𝔩𝔩𝔬 𝐛𝐨𝐥𝐝 math letters",
    "Zürich Genève Besançon",
    "Dvořák Škoda Łódź Kraków",
]

SCRIPTS = [
    "机器学习是人工智能的一个分支。",
    "中文文本检索",
    "日本語のテキストとカタカナ、ひらがな。",
    "東京都渋谷区",
    "한국어 문장입니다",
    "안녕하세요 세계",
    "العربية لغة جميلة",
    "עברית היא שפה",
    "ภาษาไทยไม่มีช่องว่าง",
    "हिन्दी भाषा देवनागरी",
    "தமிழ் மொழி",
    "Ελληνικά κείμενα",
    "mixed English 和中文 and 日本語 text",
    "𠀀𠀁 CJK extension B 𪜀",
    "兀 compatibility ideograph 﨎",
    "emoji 😀🎉👍🏽 and flags 🇫🇷",
    "👨‍👩‍👧 family with zero width joiners",
]

CODE = [
    "def add(a, b):\n    return a + b",
    "for (int i = 0; i < n; ++i) { sum += x[i]; }",
    "SELECT id, name FROM users WHERE age >= 21 ORDER BY name;",
    "std::vector<std::string> words = split(text, ' ');",
    "<div class=\"container\"><p>Hello</p></div>",
    "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}",
    "git commit -m 'fix: handle empty input' && git push",
    "x = np.array([[1.0, 2.0], [3.0, 4.0]]) @ W.T",
    "#include <iostream>\nint main() { return 0; }",
    "/usr/local/bin/python3 --version 2>&1 | grep -E '^Python'",
]

NUMBERS = [
    "3.14159 2.71828 1.41421",
    "1,000,000 and 1.000.000 and 1 000 000",
    "2024-03-15T12:34:56Z",
    "+1 (555) 123-4567",
    "0x7fffffff 0b1010 1e-12 6.022e23",
    "Mach 2.5 at 30,000 ft with Re = 1.2 × 10^6",
    "IPv4 192.168.0.1 and IPv6 fe80::1",
    "v1.2.3-beta.4+build.56",
    "12345678901234567890",
    "½ ¾ ² ³ ⅓ Ⅻ",
]

WHITESPACE_AND_CONTROL = [
    "",
    " ",
    "   \t\n  ",
    "\n\n\n",
    "tab\tseparated\tvalues",
    "line one\nline two\r\nline three",
    "non\u00a0breaking\u00a0space",
    "ideographic\u3000space",
    "zero\u200bwidth\u200bspace",
    "soft\u00adhyphen",
    "bell\u0007char and null\u0000char",
    "vertical\u000btab form\u000cfeed",
    "next\u0085line",
    "line\u2028separator paragraph\u2029separator",
    "replacement \ufffd character",
    "bidi \u202eoverride\u202c marks \u200e\u200f",
    "private use \ue000\uf8ff",
    "word\u0301 starting with a combining mark \u0301alone",
    "en\u2002space em\u2003space thin\u2009space",
    "BOM \ufeff inside",
]

LONG_WORDS = [
    "a" * 100,
    "b" * 101,
    "pneumonoultramicroscopicsilicovolcanoconiosis",
    "x" * 150 + " short words after",
    "supercalifragilisticexpialidocious" * 3,
    "é" * 101,
    "Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft",
]

_PARAGRAPH = (
    "An experimental study was made of the pressure distribution and heat transfer on a flat plate "
    "in supersonic flow, with the boundary layer tripped near the leading edge. The results agree with "
    "the theory of similar solutions when the Reynolds number is large, but deviate near separation. "
)

LONG = [
    _PARAGRAPH * 3,
    _PARAGRAPH * 8,
    " ".join(str(i) for i in range(400)),
    "word " * 254,
    "word " * 255,
    "word " * 256,
    "机器学习" * 100,
    "Hello, world! " * 60,
    ("The blood cells of the patients were studied. " * 40).strip(),
    "ünïcödé " * 200,
]


def parity_texts() -> list[str]:
    texts = SHORT + PUNCTUATION + ACCENTS + SCRIPTS + CODE + NUMBERS + WHITESPACE_AND_CONTROL + LONG_WORDS + LONG
    assert len(texts) == len(set(texts)), "duplicate parity text"
    return texts
