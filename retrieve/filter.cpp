#include "retrieve/filter.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/check.hpp"

namespace ragline::retrieve {

using Json = nlohmann::json;

namespace {

enum class Operator {
  equals,
  not_equals,
  greater_than,
  greater_than_or_equals,
  less_than,
  less_than_or_equals,
  in,
  not_in,
  starts_with,
  string_contains,
  list_contains,
  and_all,
  or_all,
};

struct OperatorName {
  std::string_view name;
  Operator op;
};

constexpr std::array<OperatorName, 13> kOperators{{
    {"equals", Operator::equals},
    {"notEquals", Operator::not_equals},
    {"greaterThan", Operator::greater_than},
    {"greaterThanOrEquals", Operator::greater_than_or_equals},
    {"lessThan", Operator::less_than},
    {"lessThanOrEquals", Operator::less_than_or_equals},
    {"in", Operator::in},
    {"notIn", Operator::not_in},
    {"startsWith", Operator::starts_with},
    {"stringContains", Operator::string_contains},
    {"listContains", Operator::list_contains},
    {"andAll", Operator::and_all},
    {"orAll", Operator::or_all},
}};

// SQLite refuses compound SELECTs of more than 500 terms (SQLITE_MAX_COMPOUND_SELECT), so long
// andAll / orAll lists are combined in groups.
constexpr std::size_t kMaxCompoundTerms = 100;
// SQLite's default SQLITE_MAX_VARIABLE_NUMBER.
constexpr std::size_t kMaxParameters = 32766;
// A set no document is in, for conditions that can never hold (a number against a system key).
constexpr std::string_view kNoDocuments = "SELECT id FROM documents WHERE 0";

// The documents column behind a system key; system keys shadow metadata keys of the same name.
std::optional<std::string_view> system_column(std::string_view key) {
  if (key == "x-amz-bedrock-kb-source-uri" || key == "_source_uri") return "uri";
  if (key == "_mime_type") return "mime_type";
  if (key == "_title") return "title";
  return std::nullopt;
}

std::string operator_list() {
  std::string list;
  for (const auto& entry : kOperators) {
    if (!list.empty()) list += ", ";
    list += entry.name;
  }
  return list;
}

std::string_view type_name(const Json& json) {
  switch (json.type()) {
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::null:
      return "null";
    default:
      return json.is_number() ? "a number" : "a value of unknown type";
  }
}

std::string dump(const Json& json) { return json.dump(-1, ' ', false, Json::error_handler_t::replace); }

bool is_plain_key(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

std::string describe_key(const std::string& key) { return is_plain_key(key) ? key : dump(Json(key)); }

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string joined;
  for (const auto& part : parts) {
    if (!joined.empty()) joined += separator;
    joined += part;
  }
  return joined;
}

}  // namespace

// Parses and compiles in one pass. Each condition becomes a common table expression holding a
// set of document ids; CTEs keep the SQL flat, because SQLite's parser overflows its stack at
// about 20 levels of nested subqueries while a filter may nest 32.
class FilterCompiler {
 public:
  Filter compile(const Json& root) {
    const Compiled compiled = node(root, "filter", 1);
    RAGLINE_CHECK(
        parameters_.size() <= kMaxParameters, invalid_argument,
        "filter: too many conditions (" << parameters_.size() << " bound values; at most " << kMaxParameters << ")");
    Filter filter;
    filter.sql_ = "WITH " + join(ctes_, ", ") +
                  " SELECT c.id FROM chunks c WHERE c.searchable = 1 AND c.document_id IN (SELECT id FROM " +
                  compiled.set + ")";
    filter.document_sql_ = "WITH " + join(ctes_, ", ") + " SELECT id FROM " + compiled.set + " ORDER BY id";
    filter.parameters_ = std::move(parameters_);
    filter.description_ = compiled.description;
    return filter;
  }

 private:
  struct Compiled {
    std::string set;  // name of the CTE holding the matching document ids
    std::string description;
  };

  enum class ValueType { string, number, boolean };
  struct Scalar {
    ValueType type;
    Filter::Parameter parameter;
  };

  static constexpr std::string_view sql_type(ValueType type) {
    switch (type) {
      case ValueType::string:
        return "string";
      case ValueType::number:
        return "number";
      case ValueType::boolean:
        return "boolean";
    }
    return "string";
  }

  std::string add_set(const std::string& select) {
    std::string name = "f" + std::to_string(ctes_.size());
    ctes_.push_back(name + "(id) AS (" + select + ")");
    return name;
  }

  std::string parameter(Filter::Parameter value) {
    parameters_.push_back(std::move(value));
    return "?" + std::to_string(parameters_.size());
  }

  static std::optional<Scalar> scalar(const Json& value) {
    if (value.is_string()) return Scalar{ValueType::string, value.get<std::string>()};
    if (value.is_boolean()) return Scalar{ValueType::boolean, std::int64_t{value.get<bool>() ? 1 : 0}};
    if (value.is_number()) return Scalar{ValueType::number, value.get<double>()};
    return std::nullopt;
  }

  Compiled node(const Json& json, const std::string& path, int depth) {
    RAGLINE_CHECK(depth <= Filter::kMaxDepth, invalid_argument,
                  path << ": filters nest deeper than " << Filter::kMaxDepth << " levels");
    RAGLINE_CHECK(json.is_object(), invalid_argument,
                  path << ": must be a JSON object holding one operator, e.g. {\"equals\": {\"key\": \"dept\", "
                          "\"value\": \"hr\"}}; got "
                       << type_name(json));
    if (json.size() != 1) {
      std::vector<std::string> names;
      for (const auto& item : json.items()) names.push_back(dump(Json(item.key())));
      RAGLINE_THROW(invalid_argument, path << ": must hold exactly one operator, got " << json.size()
                                           << (names.empty() ? "" : " (" + join(names, ", ") + ")"));
    }
    const auto item = json.items().begin();
    const auto found = std::find_if(kOperators.begin(), kOperators.end(),
                                    [&](const OperatorName& entry) { return entry.name == item.key(); });
    RAGLINE_CHECK(found != kOperators.end(), invalid_argument,
                  path << ": unknown operator " << dump(Json(item.key())) << "; expected one of " << operator_list());
    const std::string operator_path = path + "." + item.key();
    if (found->op == Operator::and_all || found->op == Operator::or_all) {
      return combine(found->op, item.value(), operator_path, depth);
    }
    return condition(found->op, item.value(), operator_path);
  }

  Compiled combine(Operator op, const Json& operand, const std::string& path, int depth) {
    RAGLINE_CHECK(operand.is_array() && !operand.empty(), invalid_argument,
                  path << ": must be an array of at least one filter, got "
                       << (operand.is_array() ? std::string("an empty array") : std::string(type_name(operand))));
    std::vector<std::string> sets;
    std::vector<std::string> descriptions;
    for (std::size_t index = 0; index < operand.size(); ++index) {
      Compiled child = node(operand[index], path + "[" + std::to_string(index) + "]", depth + 1);
      sets.push_back(std::move(child.set));
      descriptions.push_back(std::move(child.description));
    }
    if (sets.size() == 1) return {sets.front(), descriptions.front()};
    const std::string_view set_operator = op == Operator::and_all ? " INTERSECT " : " UNION ";
    while (sets.size() > 1) {
      std::vector<std::string> grouped;
      for (std::size_t begin = 0; begin < sets.size(); begin += kMaxCompoundTerms) {
        const std::size_t end = std::min(sets.size(), begin + kMaxCompoundTerms);
        if (end - begin == 1) {
          grouped.push_back(sets[begin]);
          continue;
        }
        std::string select;
        for (std::size_t index = begin; index < end; ++index) {
          if (index > begin) select += set_operator;
          select += "SELECT id FROM " + sets[index];
        }
        grouped.push_back(add_set(select));
      }
      sets = std::move(grouped);
    }
    return {sets.front(), "(" + join(descriptions, op == Operator::and_all ? " AND " : " OR ") + ")"};
  }

  Compiled condition(Operator op, const Json& operand, const std::string& path) {
    RAGLINE_CHECK(operand.is_object(), invalid_argument,
                  path << ": must be an object {\"key\": ..., \"value\": ...}, got " << type_name(operand));
    for (const auto& field : operand.items()) {
      RAGLINE_CHECK(field.key() == "key" || field.key() == "value", invalid_argument,
                    path << ": unknown field " << dump(Json(field.key())) << "; expected \"key\" and \"value\"");
    }
    const auto key_field = operand.find("key");
    RAGLINE_CHECK(key_field != operand.end() && key_field->is_string() && !key_field->get<std::string>().empty(),
                  invalid_argument, path << ": \"key\" must be a non-empty string");
    const auto value_field = operand.find("value");
    RAGLINE_CHECK(value_field != operand.end(), invalid_argument, path << ": \"value\" is missing");
    const std::string key = key_field->get<std::string>();
    const Json& value = *value_field;
    const std::string shown_key = describe_key(key);

    switch (op) {
      case Operator::equals:
      case Operator::not_equals: {
        const auto operand_value = scalar(value);
        RAGLINE_CHECK(operand_value, invalid_argument,
                      path << ": \"value\" must be a string, a number or a boolean, got " << type_name(value));
        const std::string set = add_set(compare_select(key, "=", *operand_value));
        if (op == Operator::equals) return {set, shown_key + " = " + dump(value)};
        return {complement(set), shown_key + " != " + dump(value)};
      }
      case Operator::greater_than:
      case Operator::greater_than_or_equals:
      case Operator::less_than:
      case Operator::less_than_or_equals: {
        const auto operand_value = scalar(value);
        RAGLINE_CHECK(operand_value && operand_value->type != ValueType::boolean, invalid_argument,
                      path << ": \"value\" must be a number or a string, got " << type_name(value));
        const std::string_view comparison = op == Operator::greater_than             ? ">"
                                            : op == Operator::greater_than_or_equals ? ">="
                                            : op == Operator::less_than              ? "<"
                                                                                     : "<=";
        return {add_set(compare_select(key, comparison, *operand_value)),
                shown_key + " " + std::string(comparison) + " " + dump(value)};
      }
      case Operator::in:
      case Operator::not_in: {
        RAGLINE_CHECK(value.is_array(), invalid_argument,
                      path << ": \"value\" must be an array of strings, numbers or booleans, got " << type_name(value));
        RAGLINE_CHECK(value.size() <= Filter::kMaxInValues, invalid_argument,
                      path << ": \"value\" has " << value.size() << " items; at most " << Filter::kMaxInValues);
        for (std::size_t index = 0; index < value.size(); ++index) {
          RAGLINE_CHECK(scalar(value[index]), invalid_argument,
                        path << ": \"value\"[" << index << "] must be a string, a number or a boolean, got "
                             << type_name(value[index]));
        }
        const std::string set = add_set(in_select(key, value));
        const std::string shown = describe_list(value);
        if (op == Operator::in) return {set, shown_key + " in " + shown};
        return {complement(set), shown_key + " not in " + shown};
      }
      case Operator::starts_with:
      case Operator::string_contains:
      case Operator::list_contains: {
        RAGLINE_CHECK(value.is_string(), invalid_argument,
                      path << ": \"value\" must be a string, got " << type_name(value));
        const std::string text = value.get<std::string>();
        const std::string_view name = op == Operator::starts_with       ? "startsWith"
                                      : op == Operator::string_contains ? "stringContains"
                                                                        : "listContains";
        std::string select = op == Operator::starts_with       ? starts_with_select(key, text)
                             : op == Operator::string_contains ? string_contains_select(key, text)
                                                               : list_contains_select(key, text);
        return {add_set(select), shown_key + " " + std::string(name) + " " + dump(value)};
      }
      case Operator::and_all:
      case Operator::or_all:
        break;
    }
    RAGLINE_THROW(internal, path << ": operator without a compiler");
  }

  std::string complement(const std::string& set) {
    return add_set("SELECT id FROM documents EXCEPT SELECT id FROM " + set);
  }

  // Documents whose metadata `key` has type `type` and whose value satisfies `predicate` (on
  // the column `value`). Goes through the index metadata_by_key_type_value.
  static std::string metadata_select(const std::string& key_parameter, ValueType type, std::string_view predicate) {
    return metadata_select(key_parameter, sql_type(type), predicate);
  }
  static std::string metadata_select(const std::string& key_parameter, std::string_view type,
                                     std::string_view predicate) {
    return "SELECT document_id FROM metadata WHERE key = " + key_parameter + " AND type = '" + std::string(type) +
           "' AND " + std::string(predicate);
  }

  std::string compare_select(const std::string& key, std::string_view comparison, const Scalar& operand) {
    if (const auto column = system_column(key)) {
      if (operand.type != ValueType::string) return std::string(kNoDocuments);
      return "SELECT id FROM documents WHERE " + std::string(*column) + " " + std::string(comparison) + " " +
             parameter(operand.parameter);
    }
    const std::string key_parameter = parameter(key);
    return metadata_select(key_parameter, operand.type,
                           "value " + std::string(comparison) + " " + parameter(operand.parameter));
  }

  // Values are bound per type as one JSON array each, read back with json_each: a single
  // parameter however long the list.
  std::string in_select(const std::string& key, const Json& values) {
    Json strings = Json::array(), numbers = Json::array(), booleans = Json::array();
    for (const Json& value : values) {
      if (value.is_string()) strings.push_back(value);
      if (value.is_number()) numbers.push_back(value.get<double>());
      if (value.is_boolean()) booleans.push_back(value.get<bool>() ? 1 : 0);
    }
    if (const auto column = system_column(key)) {
      if (strings.empty()) return std::string(kNoDocuments);
      return "SELECT id FROM documents WHERE " + std::string(*column) + " IN (SELECT value FROM json_each(" +
             parameter(dump(strings)) + "))";
    }
    if (strings.empty() && numbers.empty() && booleans.empty()) return std::string(kNoDocuments);
    // Every parameter added must appear in the SQL: binding one that does not is an error.
    const std::string key_parameter = parameter(key);
    std::vector<std::string> selects;
    const auto add = [&](ValueType type, const Json& list) {
      if (list.empty()) return;
      selects.push_back(metadata_select(key_parameter, type,
                                        "value IN (SELECT value FROM json_each(" + parameter(dump(list)) + "))"));
    };
    add(ValueType::string, strings);
    add(ValueType::number, numbers);
    add(ValueType::boolean, booleans);
    return join(selects, " UNION ");
  }

  // The lower bound lets the index skip to the prefix; substr() decides.
  std::string starts_with_select(const std::string& key, const std::string& prefix) {
    const auto column = system_column(key);
    const std::string key_parameter = column ? "" : parameter(key);
    const std::string prefix_parameter = parameter(prefix);
    const std::string target = column ? std::string(*column) : "value";
    const std::string predicate = target + " >= " + prefix_parameter + " AND substr(" + target + ", 1, length(" +
                                  prefix_parameter + ")) = " + prefix_parameter;
    if (column) return "SELECT id FROM documents WHERE " + predicate;
    return metadata_select(key_parameter, ValueType::string, predicate);
  }

  std::string string_contains_select(const std::string& key, const std::string& part) {
    if (const auto column = system_column(key)) {
      return "SELECT id FROM documents WHERE instr(" + std::string(*column) + ", " + parameter(part) + ") > 0";
    }
    const std::string key_parameter = parameter(key);
    const std::string part_parameter = parameter(part);
    return metadata_select(key_parameter, ValueType::string, "instr(value, " + part_parameter + ") > 0") + " UNION " +
           metadata_select(key_parameter, "string_list",
                           "EXISTS (SELECT 1 FROM json_each(metadata.value) AS member WHERE instr(member.value, " +
                               part_parameter + ") > 0)");
  }

  std::string list_contains_select(const std::string& key, const std::string& member) {
    if (system_column(key)) return std::string(kNoDocuments);
    const std::string key_parameter = parameter(key);
    return metadata_select(
        key_parameter, "string_list",
        "EXISTS (SELECT 1 FROM json_each(metadata.value) AS member WHERE member.value = " + parameter(member) + ")");
  }

  static std::string describe_list(const Json& values) {
    constexpr std::size_t kShown = 5;
    std::string shown = "[";
    for (std::size_t index = 0; index < values.size() && index < kShown; ++index) {
      if (index > 0) shown += ", ";
      shown += dump(values[index]);
    }
    if (values.size() > kShown) shown += ", ... " + std::to_string(values.size() - kShown) + " more";
    return shown + "]";
  }

  std::vector<std::string> ctes_;
  std::vector<Filter::Parameter> parameters_;
};

Filter Filter::parse(std::string_view json_text) {
  Json root;
  try {
    root = Json::parse(json_text.begin(), json_text.end());
  } catch (const Json::parse_error& error) {
    std::string reason = error.what();
    if (const auto at = reason.find("parse error"); at != std::string::npos) {
      if (const auto colon = reason.find(": ", at); colon != std::string::npos) reason = reason.substr(colon + 2);
    }
    RAGLINE_THROW(invalid_argument, "filter: invalid JSON at byte " << error.byte << ": " << reason);
  } catch (const Json::exception& error) {
    RAGLINE_THROW(invalid_argument, "filter: invalid JSON: " << error.what());
  }
  return FilterCompiler().compile(root);
}

void Filter::bind(index::Statement& statement) const {
  for (std::size_t index = 0; index < parameters_.size(); ++index) {
    std::visit([&](const auto& value) { statement.bind(static_cast<int>(index + 1), value); }, parameters_[index]);
  }
}

index::ChunkIdSet matching_chunks(index::Database& database, const Filter& filter) {
  index::Statement statement = database.prepare(filter.sql());
  filter.bind(statement);
  index::ChunkIdSet ids;
  while (statement.step()) ids.insert(statement.column_int64(0));
  return ids;
}

std::vector<std::int64_t> matching_documents(index::Database& database, const Filter& filter) {
  index::Statement statement = database.prepare(filter.document_sql());
  filter.bind(statement);
  std::vector<std::int64_t> ids;
  while (statement.step()) ids.push_back(statement.column_int64(0));
  return ids;
}

}  // namespace ragline::retrieve
