#pragma once

// Why a JSON line is not a protobuf message, said without quoting the line. Parser messages quote
// the offending value ("invalid value \"Karin Malmström\" for ..."), and a value may be a name, an
// address or an identity number: the reason keeps only what locates the problem (the field path,
// an unknown field's name when it looks like a name of the schema) and says what kind it is.

#include <string>
#include <string_view>

namespace samordna {

// `line` is the input, `parser_message` what protobuf's JsonStringToMessage said about it.
std::string describe_json_error(std::string_view line, std::string_view parser_message);

}  // namespace samordna
