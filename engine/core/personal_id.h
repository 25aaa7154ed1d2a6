#pragma once

// Swedish identity numbers (docs/glossary.md): personnummer and samordningsnummer in the 12-digit
// form YYYYMMDDNNNC. The rules are those of Skatteverket as collected in
// shared/data/sweden/personnummer/RULES.md. The numbers are personal data: no error text produced
// here ever contains the number or any part of it.

#include <string_view>

#include "engine/core/result.h"

namespace samordna {

enum class PersonalIdKind {
  kPersonnummer,       // a registered person (folkbokförd)
  kSamordningsnummer,  // coordination number: day of birth + 60
};

// Validates a 12-digit identity number: digits only, the date exists (day - 60 for a
// samordningsnummer), serial not 000, Luhn check digit over the last 10 digits. The 10-digit and
// separated forms are refused: the engine's contract is the unambiguous 12-digit form.
Result<PersonalIdKind> validate_personal_id(std::string_view id);

}  // namespace samordna
