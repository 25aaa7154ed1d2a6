#include "engine/core/name_uuid.h"

#include <gtest/gtest.h>

namespace samordna {
namespace {

// The expected value is Python's hashlib, not this code: sha256(b"ep-1/e/adm/MUNICIPALITY\0
// MessageHeader"), first 16 bytes, version nibble 8, variant bits 10.
TEST(NameUuid, IsSha256OfNameAndRoleLaidOutAsAVersion8Uuid) {
  EXPECT_EQ(fhir_message_header_id("ep-1/e/adm/MUNICIPALITY"),
            "996d80d7-2edd-8405-82dd-dafcb2a19f26");
  EXPECT_EQ(name_uuid("ep-1/e/adm/MUNICIPALITY", "MessageHeader"),
            fhir_message_header_id("ep-1/e/adm/MUNICIPALITY"));
  EXPECT_NE(name_uuid("ep-1/e/adm/MUNICIPALITY", "Encounter"),
            fhir_message_header_id("ep-1/e/adm/MUNICIPALITY"));
}

}  // namespace
}  // namespace samordna
