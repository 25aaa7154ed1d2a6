#include "connectors/hl7/mllp_framer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace samordna::hl7 {
namespace {

// Every frame or error the framer gives for `chunks` fed one after the other; errors as "!reason".
std::vector<std::string> frames(MllpFramer& f, const std::vector<std::string>& chunks) {
  std::vector<std::string> out;
  for (const auto& c : chunks) {
    f.feed(c);
    while (f.has_next()) {
      auto r = f.next();
      out.push_back(r ? r.value() : "!" + r.error().message);
    }
  }
  return out;
}

const std::string kA = "MSH|^~\\&|A\rPID|1";
const std::string kB = "MSH|^~\\&|B\rPV1|1";

TEST(Hl7MllpFramer, OneFrame) {
  MllpFramer f;
  EXPECT_EQ(frames(f, {MllpFramer::frame(kA)}), std::vector<std::string>{kA});
  EXPECT_FALSE(f.in_frame());
  EXPECT_EQ(f.discarded_bytes(), 0U);
}

TEST(Hl7MllpFramer, SplitOverReadsByteByByte) {
  MllpFramer f;
  std::vector<std::string> chunks;
  for (char c : MllpFramer::frame(kA) + MllpFramer::frame(kB)) chunks.emplace_back(1, c);
  EXPECT_EQ(frames(f, chunks), (std::vector<std::string>{kA, kB}));
}

TEST(Hl7MllpFramer, CoalescedFramesAndNoiseBetween) {
  MllpFramer f;
  // Noise before the first start byte, a trailing LF, NULs between messages.
  std::string bytes =
      "xx" + MllpFramer::frame(kA) + "\n" + std::string(3, '\0') + MllpFramer::frame(kB) + "\n";
  EXPECT_EQ(frames(f, {bytes}), (std::vector<std::string>{kA, kB}));
  EXPECT_EQ(f.discarded_bytes(), 2U + 1U + 3U + 1U);
}

TEST(Hl7MllpFramer, EndBlockWithoutCr) {
  MllpFramer f;
  std::string bytes = "\x0B" + kA + "\x1C" + MllpFramer::frame(kB);
  EXPECT_EQ(frames(f, {bytes}), (std::vector<std::string>{kA, kB}));
}

TEST(Hl7MllpFramer, PartialFrameIsHeldUntilItsEnd) {
  MllpFramer f;
  std::string framed = MllpFramer::frame(kA);
  EXPECT_TRUE(frames(f, {framed.substr(0, 5)}).empty());
  EXPECT_TRUE(f.in_frame());
  EXPECT_EQ(frames(f, {framed.substr(5)}), std::vector<std::string>{kA});
}

TEST(Hl7MllpFramer, OversizedFrameIsReportedOnceThenTheNextOneReads) {
  MllpFramer f(8);
  std::string big = MllpFramer::frame(std::string(100, 'x'));
  auto out = frames(f, {big.substr(0, 50), big.substr(50), MllpFramer::frame("MSH|ok")});
  EXPECT_EQ(out, (std::vector<std::string>{"!MLLP frame larger than 8 bytes", "MSH|ok"}));
}

TEST(Hl7MllpFramer, RestartedFrame) {
  MllpFramer f;
  std::string bytes =
      "\x0B"
      "abc" +
      MllpFramer::frame(kA);
  EXPECT_EQ(frames(f, {bytes}),
            (std::vector<std::string>{
                "!MLLP frame cut short by a new start block (3 bytes dropped)", kA}));
}

}  // namespace
}  // namespace samordna::hl7
