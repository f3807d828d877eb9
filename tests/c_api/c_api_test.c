/* The C API (ragline/ragline.h) from C, linked against libragline.so: open with options JSON,
 * ingest a folder with sidecar metadata, search with an equals filter, upsert in-memory
 * documents (added, filtered, unchanged, updated), build prompts from a query and from given hits,
 * read stats, list documents (filter, limit, offset), remove by id and by filter, compact, and the
 * errors (NULL + ragline_last_error()). */

#define _XOPEN_SOURCE 700

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ragline/ragline.h"

static int passed = 0;
static int failed = 0;

static void check(int condition, const char* what) {
  if (condition) {
    ++passed;
    printf("ok: %s\n", what);
  } else {
    ++failed;
    printf("FAILED: %s\n", what);
  }
}

static int contains(const char* text, const char* part) { return text != NULL && strstr(text, part) != NULL; }

static int occurrences(const char* text, const char* part) {
  int count = 0;
  if (text == NULL) return 0;
  for (const char* at = strstr(text, part); at != NULL; at = strstr(at + 1, part)) ++count;
  return count;
}

static void write_file(const char* dir, const char* name, const char* content) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE* file = fopen(path, "w");
  if (file == NULL) {
    perror(path);
    exit(2);
  }
  fputs(content, file);
  fclose(file);
}

static int remove_entry(const char* path, const struct stat* info, int type, struct FTW* walk) {
  (void)info;
  (void)type;
  (void)walk;
  return remove(path);
}

/* A failed call: NULL, and the thread's last error of this kind, mentioning `part`. */
static void check_error(char* result, const char* kind, const char* part, const char* what) {
  char expected_kind[128];
  char description[512];
  snprintf(expected_kind, sizeof expected_kind, "\"kind\":\"%s\"", kind);
  snprintf(description, sizeof description, "%s: NULL with %s mentioning '%s' (got %s)", what, kind, part,
           ragline_last_error());
  check(result == NULL && contains(ragline_last_error(), expected_kind) && contains(ragline_last_error(), part),
        description);
  ragline_free(result);
}

/* Whether a new thread starts without an error (its answer, not the pointer: the thread's
 * storage is gone once it ends). */
static void* has_no_error(void* answer) {
  *(int*)answer = strcmp(ragline_last_error(), "") == 0;
  return NULL;
}

int main(void) {
  char root[] = "/tmp/ragline_c_api_XXXXXX";
  if (mkdtemp(root) == NULL) {
    perror("mkdtemp");
    return 2;
  }
  char docs[4096], kb_dir[4096], missing_dir[4096], ingest_request[8192];
  snprintf(docs, sizeof docs, "%s/docs", root);
  snprintf(kb_dir, sizeof kb_dir, "%s/kb", root);
  snprintf(missing_dir, sizeof missing_dir, "%s/no-such-kb", root);
  if (mkdir(docs, 0700) != 0) {
    perror(docs);
    return 2;
  }
  write_file(docs, "expenses.md",
             "# Expenses\n\nTravel expenses are reimbursed within 30 days when the receipts are attached.\n");
  write_file(docs, "expenses.md.metadata.json", "{\"metadataAttributes\": {\"team\": \"sales\", \"year\": 2024}}\n");
  write_file(docs, "laptops.md",
             "# Laptops\n\nLaptop purchases are reimbursed only with a manager's approval and receipts.\n");
  write_file(docs, "laptops.md.metadata.json", "{\"metadataAttributes\": {\"team\": \"engineering\"}}\n");
  write_file(docs, "holidays.txt", "The office is closed on public holidays.\n");

  check(strcmp(ragline_last_error(), "") == 0, "no error before any call failed");
  check(strcmp(ragline_version(), RAGLINE_EXPECTED_VERSION) == 0, "ragline_version() is the project version");

  ragline_kb* kb = ragline_kb_open(kb_dir, "{\"create_if_missing\": true, \"embedder\": {\"name\": \"lexical\"}}");
  check(kb != NULL, "ragline_kb_open creates a KB with the lexical embedder");
  if (kb == NULL) {
    printf("last error: %s\n%d passed, %d failed\n", ragline_last_error(), passed, failed + 1);
    return 1;
  }

  snprintf(ingest_request, sizeof ingest_request, "{\"paths\": [\"%s\"], \"options\": {\"batch_documents\": 2}}", docs);
  char* report = ragline_kb_ingest_json(kb, ingest_request);
  check(contains(report, "\"added\":3"), "ingest adds the three documents");
  check(contains(report, "\"failures\":[]"), "ingest reports no failure");
  ragline_free(report);

  const char* filtered_query =
      "{\"text\": \"reimbursed receipts\", \"k\": 5, \"filter\": {\"equals\": {\"key\": \"team\", \"value\": "
      "\"sales\"}}}";
  char* result = ragline_kb_search_json(kb, filtered_query);
  check(result != NULL, "search with an equals filter answers");
  check(occurrences(result, "\"chunk_id\":") == 1, "the filter leaves one hit");
  check(contains(result, "expenses.md") && !contains(result, "laptops.md"), "the hit is the sales document");
  check(contains(result, "\"team\":\"sales\""), "the hit carries the sidecar metadata");
  ragline_free(result);

  result = ragline_kb_search_json(kb, "{\"text\": \"reimbursed receipts\", \"k\": 5, \"mode\": \"bm25\"}");
  check(contains(result, "expenses.md") && contains(result, "laptops.md") && !contains(result, "holidays.txt"),
        "without the filter BM25 finds both matching documents");
  ragline_free(result);

  char* prompt = ragline_kb_prompt_json(
      kb,
      "{\"question\": \"When are travel expenses reimbursed?\","
      " \"query\": {\"k\": 3, \"filter\": {\"equals\": {\"key\": \"team\", \"value\": \"sales\"}}},"
      " \"options\": {\"context_window\": 2048, \"answer_reserve\": 256}}");
  check(contains(prompt, "When are travel expenses reimbursed?"), "the prompt holds the question");
  check(contains(prompt, "within 30 days") && !contains(prompt, "manager's approval"),
        "the prompt cites the filtered document only");
  check(contains(prompt, "[1]"), "the prompt numbers its sources");
  ragline_free(prompt);

  prompt = ragline_kb_prompt_json(
      kb,
      "{\"question\": \"What is given?\", \"hits\": [{\"chunk_id\": 1, \"document_uri\": \"file:///given.md\","
      " \"title\": \"Given\", \"text\": \"A passage the caller supplied.\", \"byte_start\": 0, \"byte_end\": 30,"
      " \"score\": 1.5, \"rank\": 1, \"metadata\": {\"team\": \"sales\"}}]}");
  check(contains(prompt, "A passage the caller supplied.") && contains(prompt, "file:///given.md"),
        "a prompt from given hits uses their text");
  ragline_free(prompt);

  char* stats = ragline_kb_stats_json(kb);
  check(contains(stats, "\"documents\":3"), "stats count three documents");
  check(contains(stats, "\"name\":\"lexical\""), "stats name the lexical embedder");
  ragline_free(stats);

  /* In-memory documents: added, found with a filter on their metadata, then unchanged and updated. */
  const char* upserted =
      "[{\"id\": \"crm/ticket-1\", \"title\": \"Refund\", \"text\": \"The customer wants a refund of the "
      "annual subscription.\", \"metadata\": {\"queue\": \"billing\", \"priority\": 1}},"
      " {\"id\": \"crm/ticket-2\", \"title\": \"Outage\", \"text\": \"The subscription dashboard is down for "
      "every customer.\", \"metadata\": {\"queue\": \"support\", \"priority\": 3}}]";
  report = ragline_kb_upsert_json(kb, upserted);
  check(contains(report, "\"added\":2") && contains(report, "\"failures\":[]"), "upsert adds two documents");
  ragline_free(report);
  result = ragline_kb_search_json(
      kb,
      "{\"text\": \"customer subscription\", \"k\": 5, \"filter\": {\"equals\": {\"key\": \"queue\", "
      "\"value\": \"support\"}}}");
  check(occurrences(result, "\"chunk_id\":") == 1 && contains(result, "\"document_uri\":\"crm/ticket-2\""),
        "a filter on upserted metadata finds the one document");
  check(contains(result, "\"priority\":3"), "the hit carries the upserted metadata");
  ragline_free(result);
  report = ragline_kb_upsert_json(kb, upserted);
  check(contains(report, "\"unchanged\":2") && contains(report, "\"added\":0") && contains(report, "\"updated\":0"),
        "the same upsert again leaves both unchanged");
  ragline_free(report);
  report = ragline_kb_upsert_json(
      kb,
      "{\"documents\": [{\"id\": \"crm/ticket-1\", \"title\": \"Refund\", \"text\": \"The refund was "
      "paid.\", \"metadata\": {\"queue\": \"billing\", \"priority\": 1}}, {\"id\": \"\", \"text\": \"no id\"}]}");
  check(contains(report, "\"updated\":1") && contains(report, "\"failed\":1") &&
            contains(report, "\"location\":\"documents[1]\""),
        "changing one updates it; an empty id is a failure in the report");
  ragline_free(report);
  result = ragline_kb_search_json(kb, "{\"text\": \"refund paid\", \"k\": 1, \"mode\": \"bm25\"}");
  check(contains(result, "crm/ticket-1") && contains(result, "The refund was paid."), "search finds the new text");
  ragline_free(result);

  /* Listing in URI order (crm/ before file:), filtered and paged. */
  char* listed = ragline_kb_documents_json(kb, NULL);
  check(occurrences(listed, "\"uri\":") == 5, "documents lists all five documents");
  check(contains(listed, "\"ragline_json\":1") && contains(listed, "\"priority\":1"),
        "the listing is the library's JSON, with metadata");
  ragline_free(listed);
  listed = ragline_kb_documents_json(kb, "{\"limit\": 2, \"offset\": 1}");
  check(occurrences(listed, "\"uri\":") == 2 && contains(listed, "crm/ticket-2") && contains(listed, "expenses.md") &&
            !contains(listed, "crm/ticket-1"),
        "limit 2 after offset 1 is the second and third documents");
  ragline_free(listed);
  listed = ragline_kb_documents_json(kb, "{\"filter\": {\"equals\": {\"key\": \"team\", \"value\": \"engineering\"}}}");
  check(occurrences(listed, "\"uri\":") == 1 && contains(listed, "laptops.md"), "a filtered listing");
  ragline_free(listed);

  /* Removing by id (an unknown id is passed over), then by filter, then compacting. */
  char* removed = ragline_kb_remove_json(kb, "{\"ids\": [\"crm/ticket-1\", \"crm/no-such-ticket\"]}");
  check(contains(removed, "\"removed\":1"), "remove by ids removes the one that exists");
  ragline_free(removed);
  removed = ragline_kb_remove_json(kb, "{\"filter\": {\"equals\": {\"key\": \"queue\", \"value\": \"support\"}}}");
  check(contains(removed, "\"removed\":1"), "remove by filter removes the matching document");
  ragline_free(removed);
  result = ragline_kb_search_json(kb, "{\"text\": \"subscription dashboard customer\", \"k\": 5, \"mode\": \"bm25\"}");
  check(result != NULL && !contains(result, "crm/ticket"), "removed documents are not found any more");
  ragline_free(result);
  stats = ragline_kb_stats_json(kb);
  check(contains(stats, "\"documents\":3"), "three documents remain");
  ragline_free(stats);
  char* compacted = ragline_kb_compact_json(kb);
  check(contains(compacted, "\"bytes_before\":") && contains(compacted, "\"bytes_after\":"),
        "compact reports the sizes before and after");
  ragline_free(compacted);
  result = ragline_kb_search_json(kb, "{\"text\": \"receipts\", \"k\": 5, \"mode\": \"bm25\"}");
  check(contains(result, "expenses.md") && contains(result, "laptops.md"), "search answers after compact");
  ragline_free(result);

  check_error(ragline_kb_remove_json(kb, "{}"), "format", "either", "remove with neither ids nor filter");
  check_error(ragline_kb_remove_json(kb, "{\"ids\": [\"a\"], \"filter\": {}}"), "format", "either",
              "remove with both ids and filter");
  check_error(ragline_kb_remove_json(kb, "{\"filter\": {}}"), "invalid_argument", "filter",
              "remove with an empty filter");
  check_error(ragline_kb_remove_json(kb, "{\"ids\": [3]}"), "format", "ids", "remove with an id that is no string");
  check_error(ragline_kb_documents_json(kb, "{\"limit\": -1}"), "format", "limit", "documents with a negative limit");
  check_error(ragline_kb_documents_json(kb, "{\"filter\": {\"equals\": 3}}"), "invalid_argument", "equals",
              "documents with a malformed filter");
  check_error(ragline_kb_compact_json(NULL), "invalid_argument", "NULL", "compact of a NULL handle");

  check_error(ragline_kb_search_json(kb, "not json"), "format", "not JSON", "search with a query that is not JSON");
  check_error(ragline_kb_search_json(kb, "{\"text\": \"x\", \"k\": \"three\"}"), "format", "k",
              "search with a wrongly typed k");
  check_error(ragline_kb_search_json(kb, "{\"text\": \"x\", \"filter\": {\"equals\": 3}}"), "invalid_argument",
              "equals", "search with a malformed filter");
  check_error(ragline_kb_ingest_json(kb, "{\"paths\": []}"), "format", "paths", "ingest without paths");
  check_error(ragline_kb_ingest_json(kb, "{\"paths\": [\"a\"], \"bogus\": 1}"), "format", "bogus",
              "ingest with an unknown field");
  check_error(ragline_kb_prompt_json(kb, "{\"question\": 7}"), "format", "question", "prompt without a question");
  check_error(ragline_kb_upsert_json(kb, "[{\"id\": \"a\"}]"), "format", "documents[0].text",
              "upsert of a document without text");
  check_error(ragline_kb_upsert_json(kb, NULL), "invalid_argument", "documents_json", "upsert with NULL documents");
  check_error(ragline_kb_stats_json(NULL), "invalid_argument", "NULL", "stats of a NULL handle");
  check_error(ragline_kb_search_json(kb, NULL), "invalid_argument", "query_json", "search with a NULL query");

  ragline_kb* missing = ragline_kb_open(missing_dir, "{\"create_if_missing\": false}");
  check(missing == NULL && contains(ragline_last_error(), "\"kind\":\"not_found\"") &&
            contains(ragline_last_error(), "no-such-kb"),
        "opening a KB that does not exist with create_if_missing false: NULL, not_found naming it");
  ragline_kb_close(missing);
  ragline_kb* bad_options = ragline_kb_open(missing_dir, "{\"create_if_missing\": \"no\"}");
  check(bad_options == NULL && contains(ragline_last_error(), "\"kind\":\"format\"") &&
            contains(ragline_last_error(), "create_if_missing"),
        "open with a wrongly typed option: NULL, format naming it");

  pthread_t thread;
  int new_thread_has_no_error = 0;
  if (pthread_create(&thread, NULL, has_no_error, &new_thread_has_no_error) == 0 && pthread_join(thread, NULL) == 0) {
    check(new_thread_has_no_error, "the last error is per thread: a new thread has none");
  } else {
    check(0, "starting a thread");
  }

  result = ragline_kb_search_json(kb, "{\"text\": \"holidays\", \"k\": 1, \"mode\": \"bm25\"}");
  check(contains(result, "holidays.txt"), "the handle still answers after the errors");
  ragline_free(result);

  ragline_kb_close(kb);
  ragline_kb_close(NULL);
  ragline_free(NULL);

  nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
