#include "engine/core/personal_id.h"

#include <chrono>
#include <cstddef>
#include <string>

namespace samordna {
namespace {

// Samordningsnummer: Skatteverket adds 60 to the day of birth.
constexpr int kCoordinationDayOffset = 60;

// Every message names the field and the broken rule, never the value: the number is personal data
// and even single digits (a birth year, a serial) narrow down who it is. No message holds a digit.
auto refuse(const char* rule) {
  return fail(Errc::kInvalidArgument, std::string("personal identity number: ") + rule);
}

int digit(std::string_view id, std::size_t i) { return id[i] - '0'; }

int number(std::string_view id, std::size_t pos, std::size_t len) {
  int n = 0;
  for (std::size_t i = pos; i < pos + len; ++i) n = n * 10 + digit(id, i);
  return n;
}

// Luhn over YYMMDDNNN (the 10-digit form without its check digit): weights 2,1,2,...; the digits of
// each product are summed; the check digit brings the total to a multiple of ten.
int luhn_check_digit(std::string_view id) {
  int sum = 0;
  for (std::size_t i = 2; i < 11; ++i) {
    int product = digit(id, i) * ((i % 2 == 0) ? 2 : 1);
    sum += product / 10 + product % 10;
  }
  return (10 - sum % 10) % 10;
}

}  // namespace

Result<PersonalIdKind> validate_personal_id(std::string_view id) {
  if (id.size() != 12) return refuse("must be twelve digits (YYYYMMDDNNNC)");
  for (char c : id) {
    if (c < '0' || c > '9') return refuse("must be twelve digits (YYYYMMDDNNNC), digits only");
  }

  int day = number(id, 6, 2);
  auto kind = PersonalIdKind::kPersonnummer;
  if (day > kCoordinationDayOffset) {
    kind = PersonalIdKind::kSamordningsnummer;
    day -= kCoordinationDayOffset;
  }
  const std::chrono::year_month_day birth{
      std::chrono::year{number(id, 0, 4)},
      std::chrono::month{static_cast<unsigned>(number(id, 4, 2))},
      std::chrono::day{static_cast<unsigned>(day)}};
  if (!birth.ok()) return refuse("date of birth does not exist");

  if (number(id, 8, 3) == 0) return refuse("serial number must not be all zeros");
  if (luhn_check_digit(id) != digit(id, 11)) return refuse("check digit does not match");
  return kind;
}

}  // namespace samordna
