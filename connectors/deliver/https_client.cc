#include "connectors/deliver/https_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>
#include <openssl/ssl.h>

namespace samordna::deliver {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

constexpr const char* kUserAgent = "samordna-deliver/1";

// Runs the io_context until `done` or the stream's deadline closes the socket under the operation.
void run(asio::io_context& ioc) {
  ioc.restart();
  ioc.run();
}

std::string describe(const char* step, const beast::error_code& ec) {
  if (ec == beast::error::timeout) return std::string(step) + ": timeout";
  return std::string(step) + ": " + ec.message();
}

}  // namespace

struct HttpsClient::Impl {
  ClientOptions options;
  ssl::context tls{ssl::context::tls_client};
};

HttpsClient::HttpsClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpsClient::~HttpsClient() = default;

Result<std::unique_ptr<HttpsClient>> HttpsClient::create(ClientOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  auto& ctx = impl->tls;
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  ctx.set_verify_mode(ssl::verify_peer);
  beast::error_code ec;
  const auto& o = impl->options;
  if (o.ca_file.empty()) {
    ctx.set_default_verify_paths(ec);
    if (ec) return fail(Errc::kInvalidArgument, "the system's CA certificates do not load");
  } else {
    ctx.load_verify_file(o.ca_file, ec);
    if (ec) return fail(Errc::kInvalidArgument, "CA file " + o.ca_file + " does not load");
  }
  if (o.client_cert_file.empty() != o.client_key_file.empty()) {
    return fail(Errc::kInvalidArgument,
                "a client certificate needs its key, and a key its "
                "certificate");
  }
  if (!o.client_cert_file.empty()) {
    ctx.use_certificate_chain_file(o.client_cert_file, ec);
    if (ec) {
      return fail(Errc::kInvalidArgument,
                  "client certificate " + o.client_cert_file + " does not load");
    }
    ctx.use_private_key_file(o.client_key_file, ssl::context::pem, ec);
    if (ec) {
      return fail(Errc::kInvalidArgument,
                  "client key " + o.client_key_file + " does not load or does not match");
    }
  }
  return std::unique_ptr<HttpsClient>(new HttpsClient(std::move(impl)));
}

PostResult HttpsClient::post(const Endpoint& endpoint,
                             const std::vector<std::pair<std::string, std::string>>& headers,
                             const std::string& body, int64_t now_unix) {
  const auto& o = impl_->options;
  PostResult result;
  asio::io_context ioc;
  beast::error_code ec;

  http::request<http::string_body> req{http::verb::post, endpoint.target, 11};
  const bool default_port = endpoint.port == (endpoint.tls ? 443 : 80);
  req.set(http::field::host,
          default_port ? endpoint.host : endpoint.host + ":" + std::to_string(endpoint.port));
  req.set(http::field::user_agent, kUserAgent);
  req.set(http::field::connection, "close");
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  req.prepare_payload();

  // Resolve and connect, bounded by the connect timeout (the resolver is synchronous: a name the
  // resolver cannot answer fails on its own timeout, which libc bounds).
  tcp::resolver resolver(ioc);
  const auto addresses = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
  if (ec) {
    result.failure = describe("resolve", ec);
    return result;
  }
  beast::ssl_stream<beast::tcp_stream> tls_stream(ioc, impl_->tls);
  beast::tcp_stream& tcp_stream = beast::get_lowest_layer(tls_stream);
  tcp_stream.expires_after(o.connect_timeout);
  tcp_stream.async_connect(addresses, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
  run(ioc);
  if (ec) {
    result.failure = describe("connect", ec);
    return result;
  }

  http::response_parser<http::string_body> parser;
  parser.header_limit(static_cast<uint32_t>(std::min<size_t>(o.max_response_bytes, 16 * 1024)));
  parser.body_limit(o.max_response_bytes);
  beast::flat_buffer buffer;

  auto exchange = [&](auto& stream) {
    tcp_stream.expires_after(o.request_timeout);
    http::async_write(stream, req, [&](beast::error_code e, size_t) { ec = e; });
    run(ioc);
    if (ec) {
      result.failure = describe("write", ec);
      return;
    }
    http::async_read(stream, buffer, parser, [&](beast::error_code e, size_t) { ec = e; });
    run(ioc);
    if (ec) result.failure = describe("read", ec);
  };

  if (endpoint.tls) {
    // SNI, and the name (or IP address) the certificate must carry.
    if (!SSL_set_tlsext_host_name(tls_stream.native_handle(), endpoint.host.c_str())) {
      result.failure = "TLS: the host name cannot be sent (SNI)";
      return result;
    }
    tls_stream.set_verify_callback(ssl::host_name_verification(endpoint.host));
    tls_stream.async_handshake(ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
    run(ioc);
    if (ec) {
      result.failure = describe("TLS handshake", ec);
      return result;
    }
    exchange(tls_stream);
    if (result.failure.empty()) {
      // A polite close; a receiver that just drops the connection is no failure once it answered.
      tcp_stream.expires_after(std::chrono::seconds(2));
      tls_stream.async_shutdown([](beast::error_code) {});
      run(ioc);
    }
  } else {
    exchange(tcp_stream);
  }
  if (!result.failure.empty()) return result;

  const auto& res = parser.get();
  result.outcome.status = static_cast<int>(res.result_int());
  if (auto it = res.find(http::field::retry_after); it != res.end()) {
    result.outcome.retry_after =
        parse_retry_after(std::string_view(it->value().data(), it->value().size()), now_unix);
  }
  tcp_stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  return result;
}

}  // namespace samordna::deliver
