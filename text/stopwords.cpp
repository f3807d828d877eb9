// Stopword lists and elided articles, written for ragline. Function words only: articles,
// pronouns, auxiliaries, prepositions, conjunctions and a few very frequent adverbs. Dropping
// them shrinks the index and, more importantly, keeps common words from making every row match
// an OR query (FTS5 scores every matching row before it applies LIMIT).
//
// Entries are in the analyser's folded form (lowercase, NFKC, ß -> ss, diacritics kept); the
// test suite checks that and that no list repeats a word.

#include "text/stopwords.hpp"

#include <array>

#include "text/text_analyzer.hpp"

namespace ragline::text {
namespace {

// English: the retrieval-quality knob tuned on the benchmarks (Cranfield, MED, CISI). Moderate
// by design, in the range of the classic function-word lists; Lucene's 33-word list is the
// small extreme, SMART's 571 words the large one. Add or remove words here.
constexpr std::string_view kEnglish[] = {
    // articles and demonstratives
    "a", "an", "the", "this", "that", "these", "those",
    // personal, possessive and reflexive pronouns
    "i", "me", "my", "mine", "myself", "we", "us", "our", "ours", "ourselves", "you", "your", "yours", "yourself",
    "yourselves", "he", "him", "his", "himself", "she", "her", "hers", "herself", "it", "its", "itself", "they", "them",
    "their", "theirs", "themselves",
    // interrogatives and relatives
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how",
    // auxiliaries and modals
    "am", "is", "are", "was", "were", "be", "been", "being", "have", "has", "had", "having", "do", "does", "did",
    "doing", "will", "would", "shall", "should", "can", "could", "may", "might", "must",
    // contractions (ICU keeps "don't" as one word)
    "i'm", "it's", "that's", "there's", "let's", "don't", "doesn't", "didn't", "isn't", "aren't", "wasn't", "weren't",
    "can't", "won't",
    // prepositions
    "about", "above", "across", "after", "against", "along", "among", "around", "at", "before", "behind", "below",
    "beneath", "beside", "between", "beyond", "by", "down", "during", "except", "for", "from", "in", "inside", "into",
    "near", "of", "off", "on", "onto", "out", "over", "since", "through", "throughout", "to", "toward", "towards",
    "under", "until", "up", "upon", "with", "within", "without",
    // conjunctions
    "and", "but", "or", "nor", "so", "yet", "if", "then", "than", "because", "as", "while", "whereas", "although",
    "though", "unless", "whether",
    // quantifiers, negation and frequent adverbs
    "all", "any", "both", "each", "either", "every", "few", "more", "most", "other", "some", "such", "no", "not",
    "only", "own", "same", "too", "very", "just", "also", "again", "further", "once", "here", "there"};

constexpr std::string_view kGerman[] = {
    // articles
    "der", "die", "das", "den", "dem", "des", "ein", "eine", "einer", "eines", "einem", "einen", "kein", "keine",
    "keiner", "keines", "keinem", "keinen",
    // pronouns
    "ich", "mich", "mir", "mein", "meine", "meiner", "meines", "meinem", "meinen", "du", "dich", "dir", "dein", "deine",
    "deiner", "deines", "deinem", "deinen", "er", "ihn", "ihm", "sein", "seine", "seiner", "seines", "seinem", "seinen",
    "sie", "ihr", "ihre", "ihrer", "ihres", "ihrem", "ihren", "es", "wir", "uns", "unser", "unsere", "unserer",
    "unseres", "unserem", "unseren", "euch", "euer", "eure", "eurer", "eures", "eurem", "euren", "sich", "man",
    "dieser", "diese", "dieses", "diesem", "diesen", "jener", "jene", "jenes", "jenem", "jenen", "welcher", "welche",
    "welches", "welchem", "welchen", "wer", "was", "wem", "wen", "wessen",
    // auxiliaries and modals
    "bin", "bist", "ist", "sind", "seid", "war", "warst", "waren", "wart", "gewesen", "wird", "werden", "wirst",
    "werdet", "wurde", "wurden", "worden", "habe", "hast", "hat", "haben", "habt", "hatte", "hatten", "gehabt", "kann",
    "kannst", "können", "konnte", "konnten", "muss", "musst", "müssen", "musste", "mussten", "soll", "sollen", "sollte",
    "sollten", "will", "wollen", "wollte", "wollten", "darf", "dürfen", "mag", "möchte",
    // conjunctions
    "und", "oder", "aber", "denn", "sondern", "doch", "dass", "ob", "weil", "wenn", "als", "wie", "sowie",
    // prepositions (and their contractions with the article)
    "an", "am", "ans", "auf", "aus", "bei", "beim", "bis", "durch", "für", "gegen", "hinter", "in", "im", "ins", "mit",
    "nach", "neben", "ohne", "seit", "über", "um", "unter", "von", "vom", "vor", "während", "wegen", "zu", "zum", "zur",
    "zwischen",
    // adverbs and quantifiers
    "nicht", "noch", "auch", "nur", "schon", "sehr", "so", "da", "dann", "dort", "hier", "wo", "wann", "warum", "alle",
    "alles", "allem", "allen", "aller", "jede", "jeder", "jedes", "jedem", "jeden", "einige"};

constexpr std::string_view kFrench[] = {
    // articles (elided "l'" and "d'" are removed before this list is consulted)
    "le", "la", "les", "un", "une", "des", "du", "de", "au", "aux",
    // demonstratives
    "ce", "cet", "cette", "ces", "ça", "cela", "ceci", "celui", "celle", "ceux", "celles",
    // pronouns
    "je", "me", "moi", "mon", "ma", "mes", "tu", "te", "toi", "ton", "ta", "tes", "il", "elle", "on", "lui", "se",
    "soi", "son", "sa", "ses", "nous", "notre", "nos", "vous", "votre", "vos", "ils", "elles", "leur", "leurs", "eux",
    "y", "en",
    // relatives and interrogatives
    "qui", "que", "quoi", "dont", "où", "quel", "quelle", "quels", "quelles", "lequel", "laquelle", "lesquels",
    "lesquelles",
    // être and avoir
    "être", "suis", "es", "est", "sommes", "êtes", "sont", "étais", "était", "étions", "étiez", "étaient", "été",
    "sera", "seront", "serait", "seraient", "soit", "soient", "fut", "avoir", "ai", "as", "a", "avons", "avez", "ont",
    "avais", "avait", "avions", "aviez", "avaient", "eu", "aura", "auront", "aurait", "auraient",
    // conjunctions
    "et", "ou", "mais", "donc", "ni", "car", "si", "comme", "quand", "lorsque", "puisque",
    // prepositions
    "à", "dans", "par", "pour", "vers", "avec", "sans", "sous", "sur", "chez", "entre", "contre", "depuis", "pendant",
    "avant", "après", "selon",
    // negation, adverbs and quantifiers
    "ne", "pas", "plus", "moins", "très", "aussi", "tout", "tous", "toute", "toutes", "même", "autre", "autres"};

constexpr std::string_view kSpanish[] = {
    // articles and contractions
    "el", "la", "los", "las", "lo", "un", "una", "unos", "unas", "al", "del",
    // pronouns
    "yo", "me", "mi", "mis", "mío", "mía", "tú", "te", "ti", "tu", "tus", "él", "ella", "ello", "ellos", "ellas", "le",
    "les", "se", "sí", "su", "sus", "nosotros", "nosotras", "nos", "nuestro", "nuestra", "nuestros", "nuestras",
    "vosotros", "vosotras", "os", "vuestro", "vuestra", "vuestros", "vuestras", "usted", "ustedes",
    // demonstratives
    "este", "esta", "esto", "estos", "estas", "ese", "esa", "eso", "esos", "esas", "aquel", "aquella", "aquello",
    "aquellos", "aquellas",
    // relatives and interrogatives
    "que", "qué", "quien", "quienes", "cual", "cuál", "cuales", "cuyo", "cuya", "donde", "dónde", "cuando", "cuándo",
    "como", "cómo",
    // ser, estar, haber
    "ser", "soy", "eres", "es", "somos", "sois", "son", "era", "eras", "éramos", "eran", "fue", "fueron", "sido",
    "será", "serán", "sería", "estar", "estoy", "estás", "está", "estamos", "están", "estaba", "estaban", "estado",
    "haber", "he", "has", "ha", "hemos", "han", "había", "habían", "hay", "habido",
    // conjunctions
    "y", "e", "o", "u", "ni", "pero", "sino", "porque", "pues", "si", "aunque", "mientras",
    // prepositions
    "a", "ante", "bajo", "con", "contra", "de", "desde", "durante", "en", "entre", "hacia", "hasta", "para", "por",
    "según", "sin", "sobre", "tras",
    // negation, adverbs and quantifiers
    "no", "muy", "más", "menos", "también", "ya", "todo", "todos", "toda", "todas", "otro", "otra", "otros", "otras",
    "mismo", "misma"};

constexpr std::string_view kItalian[] = {
    // articles and articulated prepositions
    "il", "lo", "la", "i", "gli", "le", "un", "uno", "una", "del", "dello", "della", "dei", "degli", "delle", "al",
    "allo", "alla", "ai", "agli", "alle", "dal", "dallo", "dalla", "dai", "dagli", "dalle", "nel", "nello", "nella",
    "nei", "negli", "nelle", "sul", "sullo", "sulla", "sui", "sugli", "sulle", "col", "coi",
    // prepositions
    "di", "a", "da", "in", "con", "su", "per", "tra", "fra",
    // pronouns
    "io", "me", "mi", "mio", "mia", "miei", "mie", "tu", "te", "ti", "tuo", "tua", "tuoi", "tue", "lui", "lei", "egli",
    "ella", "esso", "essa", "ci", "ce", "si", "sé", "suo", "sua", "suoi", "sue", "noi", "nostro", "nostra", "nostri",
    "nostre", "voi", "vi", "vostro", "vostra", "vostri", "vostre", "loro", "essi", "esse", "ne",
    // demonstratives, relatives and interrogatives
    "questo", "questa", "questi", "queste", "quello", "quella", "quelli", "quelle", "quei", "quegli", "che", "chi",
    "cui", "quale", "quali", "dove", "quando", "come", "perché",
    // essere and avere
    "essere", "sono", "sei", "è", "siamo", "siete", "era", "erano", "fu", "furono", "stato", "stata", "stati", "state",
    "sarà", "saranno", "sarebbe", "sia", "siano", "avere", "ho", "hai", "ha", "abbiamo", "avete", "hanno", "aveva",
    "avevano", "ebbe", "avuto", "avrà", "avrebbe", "abbia",
    // conjunctions
    "e", "ed", "o", "od", "ma", "però", "se", "anche", "né",
    // negation, adverbs and quantifiers
    "non", "più", "molto", "poco", "tutto", "tutti", "tutta", "tutte", "altro", "altri", "altra", "altre", "stesso"};

constexpr std::string_view kPortuguese[] = {
    // articles and contractions
    "o", "a", "os", "as", "um", "uma", "uns", "umas", "ao", "aos", "à", "às", "do", "da", "dos", "das", "no", "na",
    "nos", "nas", "pelo", "pela", "pelos", "pelas", "dum", "duma", "num", "numa",
    // prepositions
    "de", "em", "por", "para", "com", "sem", "sob", "sobre", "entre", "até", "desde", "contra", "após", "perante",
    // pronouns ("nos" is both a contraction and a pronoun, listed above)
    "eu", "me", "mim", "meu", "minha", "meus", "minhas", "tu", "te", "ti", "teu", "tua", "teus", "tuas", "ele", "ela",
    "eles", "elas", "lhe", "lhes", "se", "si", "seu", "sua", "seus", "suas", "nós", "nosso", "nossa", "nossos",
    "nossas", "vós", "vos", "você", "vocês",
    // demonstratives, relatives and interrogatives
    "este", "esta", "estes", "estas", "isto", "esse", "essa", "esses", "essas", "isso", "aquele", "aquela", "aqueles",
    "aquelas", "aquilo", "que", "quem", "qual", "quais", "cujo", "cuja", "onde", "quando", "como",
    // ser, estar, ter, haver
    "ser", "sou", "é", "somos", "são", "era", "eram", "foi", "foram", "sido", "será", "serão", "seria", "seja", "sejam",
    "estar", "estou", "está", "estamos", "estão", "estava", "estavam", "esteve", "estado", "ter", "tenho", "tem",
    "temos", "têm", "tinha", "tinham", "teve", "tido", "haver", "há", "havia", "houve",
    // conjunctions
    "e", "ou", "mas", "nem", "porque", "pois", "embora",
    // negation, adverbs and quantifiers
    "não", "mais", "muito", "muitos", "muita", "muitas", "pouco", "também", "já", "todo", "toda", "todos", "todas",
    "outro", "outra", "outros", "outras", "mesmo", "mesma"};

constexpr std::string_view kDutch[] = {
    // articles
    "de", "het", "een", "der", "des", "den",
    // pronouns ("het" and "zijn" are listed once, as article and verb)
    "ik", "me", "mij", "mijn", "jij", "je", "jou", "jouw", "jullie", "u", "uw", "hij", "hem", "zij", "ze", "haar",
    "wij", "we", "ons", "onze", "hun", "hen", "zich", "men",
    // demonstratives, relatives and interrogatives
    "dit", "dat", "deze", "die", "wie", "wat", "welke", "waar", "wanneer", "hoe", "waarom",
    // auxiliaries and modals
    "ben", "bent", "is", "zijn", "was", "waren", "geweest", "word", "wordt", "worden", "werd", "werden", "heb", "hebt",
    "heeft", "hebben", "had", "hadden", "gehad", "kan", "kunnen", "kon", "konden", "zal", "zullen", "zou", "zouden",
    "moet", "moeten", "wil", "willen", "mag",
    // conjunctions
    "en", "of", "maar", "want", "dus", "omdat", "als", "dan", "toen", "terwijl", "hoewel", "noch",
    // prepositions
    "aan", "achter", "bij", "binnen", "boven", "door", "in", "met", "na", "naar", "naast", "om", "onder", "op", "over",
    "per", "sinds", "te", "tegen", "tot", "tussen", "uit", "van", "voor", "zonder",
    // negation, adverbs and quantifiers
    "niet", "geen", "ook", "nog", "al", "wel", "zo", "er", "hier", "daar", "meer", "veel", "zeer"};

// Elided articles and pronouns: written before a vowel with an apostrophe and no space. ICU keeps
// "l'avion" as one word, so without this "avion" alone would never match it.
constexpr std::string_view kFrenchElisions[] = {"l", "d",  "j",     "m",      "n",      "s",     "t",
                                                "c", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu"};
constexpr std::string_view kItalianElisions[] = {
    "l",    "d",    "c",  "m",   "t",    "s",    "v",    "un",   "dell",  "all",   "dall",   "nell",   "sull",
    "coll", "pell", "gl", "agl", "dagl", "degl", "negl", "sugl", "quell", "quest", "nessun", "ciascun"};
constexpr std::string_view kCatalanElisions[] = {"l", "d", "m", "n", "s", "t"};

struct LanguageLists {
  std::string_view language;
  std::span<const std::string_view> stopwords;
  std::span<const std::string_view> elisions;
};

constexpr LanguageLists kLanguages[] = {
    {"english", kEnglish, {}},         {"porter", kEnglish, {}},
    {"german", kGerman, {}},           {"french", kFrench, kFrenchElisions},
    {"spanish", kSpanish, {}},         {"italian", kItalian, kItalianElisions},
    {"portuguese", kPortuguese, {}},   {"dutch", kDutch, {}},
    {"catalan", {}, kCatalanElisions},
};

const LanguageLists* find_language(std::string_view language) {
  for (const auto& lists : kLanguages) {
    if (lists.language == language) return &lists;
  }
  return nullptr;
}

}  // namespace

const StopwordSet* find_stopwords(std::string_view language) {
  // Built once, in kLanguages order; never modified afterwards, so concurrent readers are safe.
  static const auto sets = [] {
    std::array<StopwordSet, std::size(kLanguages)> built;
    for (std::size_t language_index = 0; language_index < std::size(kLanguages); ++language_index) {
      const auto& words = kLanguages[language_index].stopwords;
      built[language_index] = StopwordSet(words.begin(), words.end());
    }
    return built;
  }();
  for (std::size_t language_index = 0; language_index < std::size(kLanguages); ++language_index) {
    if (kLanguages[language_index].language == language && !kLanguages[language_index].stopwords.empty()) {
      return &sets[language_index];
    }
  }
  return nullptr;
}

std::span<const std::string_view> stopword_list(std::string_view language) {
  const LanguageLists* lists = find_language(language);
  return lists == nullptr ? std::span<const std::string_view>{} : lists->stopwords;
}

std::span<const std::string_view> elided_articles(std::string_view language) {
  const LanguageLists* lists = find_language(language);
  return lists == nullptr ? std::span<const std::string_view>{} : lists->elisions;
}

bool has_stopword_list(std::string_view language) { return !stopword_list(language).empty(); }

}  // namespace ragline::text
