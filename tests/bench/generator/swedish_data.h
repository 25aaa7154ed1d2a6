#pragma once

// Reference tables for the synthetic national year: real municipality and county codes
// (kommunkod, länskod, SCB) with rounded populations as weights, and name and street lists for
// synthetic patients. Nothing here identifies a real person.

#include <span>
#include <string_view>

namespace samordna::gen {

struct Municipality {
  std::string_view code;         // kommunkod, 4 digits (SCB)
  std::string_view name;         // kommun
  std::string_view county;       // länskod, 2 digits: the first two digits of the kommunkod
  std::string_view postal_town;  // postort used in addresses
  int postal_prefix;             // first two digits of the postnummer used in addresses
  int population_k;              // inhabitants, thousands, rounded: the sampling weight
};

std::span<const Municipality> municipalities();

// Synthetic first names by sex (the sex digit of the identity number decides), surnames, streets.
std::span<const std::string_view> female_first_names();
std::span<const std::string_view> male_first_names();
std::span<const std::string_view> surnames();
std::span<const std::string_view> streets();

}  // namespace samordna::gen
