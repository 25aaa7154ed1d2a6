#include "tests/bench/generator/swedish_data.h"

#include <array>

namespace samordna::gen {
namespace {

// The largest municipality (or two) of every one of the 21 regions, so every regional rule set is
// exercised. Codes are SCB's kommunkoder; the county is the first two digits.
constexpr std::array kMunicipalities = {
    Municipality{"0180", "Stockholm", "01", "Stockholm", 11, 985},
    Municipality{"0126", "Huddinge", "01", "Huddinge", 14, 115},
    Municipality{"0127", "Botkyrka", "01", "Tumba", 14, 95},
    Municipality{"0181", "Södertälje", "01", "Södertälje", 15, 100},
    Municipality{"0182", "Nacka", "01", "Nacka", 13, 108},
    Municipality{"0162", "Danderyd", "01", "Danderyd", 18, 33},
    Municipality{"0380", "Uppsala", "03", "Uppsala", 75, 240},
    Municipality{"0480", "Nyköping", "04", "Nyköping", 61, 58},
    Municipality{"0484", "Eskilstuna", "04", "Eskilstuna", 63, 107},
    Municipality{"0580", "Linköping", "05", "Linköping", 58, 166},
    Municipality{"0581", "Norrköping", "05", "Norrköping", 60, 145},
    Municipality{"0680", "Jönköping", "06", "Jönköping", 55, 144},
    Municipality{"0780", "Växjö", "07", "Växjö", 35, 97},
    Municipality{"0880", "Kalmar", "08", "Kalmar", 39, 72},
    Municipality{"0980", "Gotland", "09", "Visby", 62, 61},
    Municipality{"1080", "Karlskrona", "10", "Karlskrona", 37, 67},
    Municipality{"1280", "Malmö", "12", "Malmö", 21, 360},
    Municipality{"1281", "Lund", "12", "Lund", 22, 128},
    Municipality{"1283", "Helsingborg", "12", "Helsingborg", 25, 151},
    Municipality{"1290", "Kristianstad", "12", "Kristianstad", 29, 87},
    Municipality{"1380", "Halmstad", "13", "Halmstad", 30, 105},
    Municipality{"1480", "Göteborg", "14", "Göteborg", 41, 600},
    Municipality{"1488", "Trollhättan", "14", "Trollhättan", 46, 60},
    Municipality{"1490", "Borås", "14", "Borås", 50, 115},
    Municipality{"1496", "Skövde", "14", "Skövde", 54, 57},
    Municipality{"1780", "Karlstad", "17", "Karlstad", 65, 96},
    Municipality{"1880", "Örebro", "18", "Örebro", 70, 160},
    Municipality{"1980", "Västerås", "19", "Västerås", 72, 157},
    Municipality{"2080", "Falun", "20", "Falun", 79, 60},
    Municipality{"2081", "Borlänge", "20", "Borlänge", 78, 52},
    Municipality{"2180", "Gävle", "21", "Gävle", 80, 103},
    Municipality{"2281", "Sundsvall", "22", "Sundsvall", 85, 100},
    Municipality{"2380", "Östersund", "23", "Östersund", 83, 65},
    Municipality{"2480", "Umeå", "24", "Umeå", 90, 132},
    Municipality{"2482", "Skellefteå", "24", "Skellefteå", 93, 75},
    Municipality{"2580", "Luleå", "25", "Luleå", 97, 80},
};

constexpr std::array<std::string_view, 40> kFemale = {
    "Anna",   "Eva",    "Maria", "Karin",     "Kristina",  "Lena",    "Sara",  "Kerstin",
    "Ingrid", "Emma",   "Marie", "Malin",     "Birgitta",  "Jenny",   "Inger", "Ulla",
    "Sofia",  "Linnéa", "Elsa",  "Margareta", "Elisabeth", "Gunilla", "Anita", "Monica",
    "Astrid", "Siv",    "Gun",   "Britt",     "Ella",      "Alice",   "Maja",  "Wilma",
    "Ebba",   "Agnes",  "Ida",   "Hanna",     "Johanna",   "Camilla", "Åsa",   "Märta"};

constexpr std::array<std::string_view, 40> kMale = {
    "Lars",   "Mikael", "Anders", "Johan",    "Per",   "Erik",    "Karl",   "Peter",
    "Jan",    "Thomas", "Daniel", "Fredrik",  "Hans",  "Bengt",   "Bo",     "Lennart",
    "Gunnar", "Sven",   "Nils",   "Åke",      "Göran", "Stefan",  "Magnus", "Mats",
    "Olof",   "Rolf",   "Kjell",  "Leif",     "Oskar", "William", "Liam",   "Hugo",
    "Lucas",  "Elias",  "Ali",    "Mohammed", "Björn", "Ulf",     "Tore",   "Arne"};

constexpr std::array<std::string_view, 48> kSurnames = {
    "Andersson", "Johansson", "Karlsson",   "Nilsson",     "Eriksson",   "Larsson",    "Olsson",
    "Persson",   "Svensson",  "Gustafsson", "Pettersson",  "Jonsson",    "Jansson",    "Hansson",
    "Bengtsson", "Jönsson",   "Lindberg",   "Jakobsson",   "Magnusson",  "Lindström",  "Olofsson",
    "Lindqvist", "Lindgren",  "Berg",       "Axelsson",    "Bergström",  "Lundberg",   "Lundgren",
    "Lind",      "Mattsson",  "Berglund",   "Fredriksson", "Sandberg",   "Henriksson", "Forsberg",
    "Sjöberg",   "Wallin",    "Engström",   "Eklund",      "Danielsson", "Lundin",     "Håkansson",
    "Holm",      "Björk",     "Nyström",    "Åberg",       "Hosseini",   "Ali"};

constexpr std::array<std::string_view, 32> kStreets = {
    "Storgatan",       "Drottninggatan",  "Kungsgatan",   "Skolgatan",   "Järnvägsgatan",
    "Parkvägen",       "Björkvägen",      "Kyrkvägen",    "Ringvägen",   "Tallvägen",
    "Industrigatan",   "Stationsgatan",   "Nygatan",      "Åsgatan",     "Hantverkargatan",
    "Bergsgatan",      "Sjövägen",        "Ekvägen",      "Granvägen",   "Lärkvägen",
    "Vasagatan",       "Östra Långgatan", "Västra vägen", "Norra Allén", "Södra Promenaden",
    "Lindvägen",       "Backvägen",       "Ängsvägen",    "Rosenvägen",  "Solvägen",
    "Prästgårdsvägen", "Strandvägen"};

}  // namespace

std::span<const Municipality> municipalities() { return kMunicipalities; }
std::span<const std::string_view> female_first_names() { return kFemale; }
std::span<const std::string_view> male_first_names() { return kMale; }
std::span<const std::string_view> surnames() { return kSurnames; }
std::span<const std::string_view> streets() { return kStreets; }

}  // namespace samordna::gen
