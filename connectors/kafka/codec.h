#pragma once

// How samordna's records look on Kafka, in one place for the service and the tools (the contract is
// connectors/kafka/README.md): keys, the partitioner, the deadletter headers, and the base64 form
// the tools print raw bytes in.

#include <optional>
#include <string>
#include <string_view>

namespace samordna::kafka {

// Every samordna producer uses this partitioner, so an episode's events, notifications and
// changelog records land on the same partition number as a Java client (Kafka Streams, Connect)
// would put them: murmur2 of the key, like Java's default partitioner, and a random partition for a
// record without key. librdkafka's own default (consistent_random, CRC32) disagrees with Java.
inline constexpr const char* kPartitioner = "murmur2_random";

// Headers of a deadletter record (UTF-8 text values). Its key is the input record's key and its
// value the input record's bytes, unchanged.
inline constexpr const char* kHeaderCode = "samordna.code";  // "malformed", "unknown_episode", ..
inline constexpr const char* kHeaderReason = "samordna.reason";  // why; never quotes input values
inline constexpr const char* kHeaderSourceTopic = "samordna.source.topic";
inline constexpr const char* kHeaderSourcePartition = "samordna.source.partition";  // decimal
inline constexpr const char* kHeaderSourceOffset = "samordna.source.offset";        // decimal

// The changelog's clock record of a partition (connectors/kafka/README.md): the event-time clock
// the last committed transaction reached, as decimal Unix seconds. The key starts with a NUL byte,
// which no episode id may hold, so it never meets an episode's record under compaction.
inline const std::string kChangelogClockKey{"\0clock", 6};

// Standard base64 (RFC 4648 section 4) with padding.
std::string base64_encode(std::string_view bytes);
// The inverse; nullopt when `text` is not padded standard base64.
std::optional<std::string> base64_decode(std::string_view text);

// The partition a Java client puts `key` in among `partitions` (murmur2, positive, modulo); what
// kPartitioner does for a non-null key.
int java_partition(std::string_view key, int partitions);

}  // namespace samordna::kafka
