// HymbaServer's life cycle over loopback gRPC: health NOT_SERVING while loading, SERVING once
// loaded, NOT_SERVING while draining (new calls UNAVAILABLE, calls in flight finish or are cut
// at the drain timeout); reflection lists and describes the services; a full queue is
// RESOURCE_EXHAUSTED; a deadline shorter than the generation is DEADLINE_EXCEEDED.
#include <gtest/gtest.h>

#include <thread>

#include "tests/server/server_fixture.h"
#include "tests/server/testing/grpc_wire.h"

namespace hymba::server {
namespace {

using grpc::health::v1::HealthCheckResponse;
using hymba::testing::HealthStatus;

class LifecycleTest : public ServerFixture {};

// Reads responses until one carries tokens; false when the stream ended first.
bool ReadFirstTokens(grpc::ClientReader<v1::GenerateResponse>* reader, int* tokens) {
  v1::GenerateResponse r;
  while (reader->Read(&r)) {
    *tokens += r.token_ids_size();
    if (r.token_ids_size() > 0) return true;
  }
  return false;
}

TEST_F(LifecycleTest, HealthFollowsLoadingServingAndDraining) {
  FixtureOptions o;
  o.load = false;
  o.max_seq_len = 2048;
  Start(o);
  EXPECT_EQ(HealthStatus(channel_, ""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(HealthStatus(channel_, "hymba.v1.Hymba"), HealthCheckResponse::NOT_SERVING);
  const Streamed early = Stream(Request(4));
  EXPECT_EQ(early.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(early.status.error_message().find("loading"), std::string::npos);
  EXPECT_EQ(Sample(Scrape(), "hymba_health_serving"), 0);

  Load();
  EXPECT_EQ(HealthStatus(channel_, ""), HealthCheckResponse::SERVING);
  EXPECT_EQ(HealthStatus(channel_, "hymba.v1.Hymba"), HealthCheckResponse::SERVING);
  EXPECT_EQ(Sample(Scrape(), "hymba_health_serving"), 1);

  // A long stream is in flight when the drain starts; it finishes, new calls are refused.
  grpc::ClientContext ctx;
  auto reader = stub_->Generate(&ctx, Request(2000));
  int tokens = 0;
  ASSERT_TRUE(ReadFirstTokens(reader.get(), &tokens));
  std::thread drain([&] { server_->Drain(absl::Seconds(60)); });
  for (int i = 0; i < 500 && HealthStatus(channel_, "") != HealthCheckResponse::NOT_SERVING; ++i)
    absl::SleepFor(absl::Milliseconds(2));
  EXPECT_EQ(HealthStatus(channel_, ""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(HealthStatus(channel_, "hymba.v1.Hymba"), HealthCheckResponse::NOT_SERVING);
  const Streamed late = Stream(Request(4));
  EXPECT_EQ(late.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  v1::GenerateResponse r;
  while (reader->Read(&r)) tokens += r.token_ids_size();
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(tokens, 2000);
  drain.join();
}

TEST_F(LifecycleTest, DrainTimeoutCutsCallsStillRunning) {
  FixtureOptions o;
  o.max_seq_len = 4096;
  Start(o);
  grpc::ClientContext ctx;
  auto reader = stub_->Generate(&ctx, Request(4000));
  int tokens = 0;
  ASSERT_TRUE(ReadFirstTokens(reader.get(), &tokens));
  server_->Drain(absl::Milliseconds(50));
  v1::GenerateResponse r;
  while (reader->Read(&r)) tokens += r.token_ids_size();
  EXPECT_FALSE(reader->Finish().ok());
  EXPECT_LT(tokens, 4000);
}

TEST_F(LifecycleTest, ReflectionListsAndDescribesTheServices) {
  Start();
  namespace wire = hymba::testing::wire;
  const std::string method = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";
  wire::ServerReflectionRequest list;
  list.set_list_services("");
  wire::ServerReflectionRequest hymba_file;
  hymba_file.set_file_containing_symbol("hymba.v1.Hymba");
  wire::ServerReflectionRequest health_file;
  health_file.set_file_containing_symbol("grpc.health.v1.Health");
  std::vector<std::string> responses;
  ASSERT_TRUE(
      hymba::testing::GenericCall(channel_, method, {&list, &hymba_file, &health_file}, &responses)
          .ok());
  ASSERT_EQ(responses.size(), 3u);

  wire::ServerReflectionResponse listed;
  ASSERT_TRUE(listed.ParseFromString(responses[0]));
  std::set<std::string> names;
  for (const auto& s : listed.list_services_response().service()) names.insert(s.name());
  EXPECT_TRUE(names.count("hymba.v1.Hymba"));
  EXPECT_TRUE(names.count("grpc.health.v1.Health"));
  EXPECT_TRUE(names.count("grpc.reflection.v1alpha.ServerReflection"));

  // Each file descriptor describes its service and methods.
  auto describes = [](const std::string& bytes, const std::string& service,
                      const std::string& rpc) {
    wire::ServerReflectionResponse response;
    if (!response.ParseFromString(bytes)) return false;
    for (const std::string& fd : response.file_descriptor_response().file_descriptor_proto()) {
      google::protobuf::FileDescriptorProto file;
      if (!file.ParseFromString(fd)) continue;
      for (const auto& s : file.service())
        if (file.package() + "." + s.name() == service)
          for (const auto& m : s.method())
            if (m.name() == rpc) return true;
    }
    return false;
  };
  EXPECT_TRUE(describes(responses[1], "hymba.v1.Hymba", "Generate"));
  EXPECT_TRUE(describes(responses[1], "hymba.v1.Hymba", "Chat"));
  EXPECT_TRUE(describes(responses[2], "grpc.health.v1.Health", "Check"));
}

TEST_F(LifecycleTest, FullQueueIsResourceExhaustedAndOthersCarryOn) {
  FixtureOptions o;
  o.max_slots = 1;
  o.max_queue = 1;
  o.max_seq_len = 2048;
  Start(o);
  grpc::ClientContext running_ctx;
  auto running = stub_->Generate(&running_ctx, Request(1500));
  int tokens = 0;
  ASSERT_TRUE(ReadFirstTokens(running.get(), &tokens));  // holds the only slot
  grpc::ClientContext queued_ctx;
  auto queued = stub_->Generate(&queued_ctx, Request(3));  // fills the queue
  for (int i = 0; i < 500 && server_->loop()->stats().waiting == 0; ++i)
    absl::SleepFor(absl::Milliseconds(1));
  const Streamed refused = Stream(Request(3));
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused.status.error_message().find("queue"), std::string::npos);
  v1::GenerateResponse r;
  while (running->Read(&r)) tokens += r.token_ids_size();
  EXPECT_TRUE(running->Finish().ok());
  EXPECT_EQ(tokens, 1500);
  int queued_tokens = 0;
  while (queued->Read(&r)) queued_tokens += r.token_ids_size();
  EXPECT_TRUE(queued->Finish().ok());
  EXPECT_EQ(queued_tokens, 3);
}

TEST_F(LifecycleTest, DeadlineShorterThanTheGenerationIsDeadlineExceededAndFreesTheSlot) {
  FixtureOptions o;
  o.max_seq_len = 4096;
  Start(o);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(100));
  auto reader = stub_->Generate(&ctx, Request(4000));
  v1::GenerateResponse r;
  int tokens = 0;
  while (reader->Read(&r)) tokens += r.token_ids_size();
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(tokens, 4000);
  for (int i = 0; i < 500 && server_->loop()->stats().free_slots != o.max_slots; ++i)
    absl::SleepFor(absl::Milliseconds(2));
  EXPECT_EQ(server_->loop()->stats().free_slots, o.max_slots);
  EXPECT_TRUE(Stream(Request(3)).status.ok());
}

TEST_F(LifecycleTest, SecondServerOnATakenPortFailsClearly) {
  Start();
  ServerOptions so;
  so.host = "127.0.0.1";
  so.port = server_->port();
  so.metrics_port = -1;
  auto second = HymbaServer::Listen(so);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find(std::to_string(server_->port())), std::string::npos);
}

}  // namespace
}  // namespace hymba::server
