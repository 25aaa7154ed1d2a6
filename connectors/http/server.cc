#include "connectors/http/server.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace samordna::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

// Holds the io_context's life for responders that outlive the server (an async handler's Kafka
// callback may answer after stop()): they post only while `alive`.
struct Lifeline {
  std::mutex mu;
  bool alive = true;
};

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void begin_shutdown() = 0;  // stop(): finish the request in flight, then close
  virtual void force_close() = 0;     // grace over: close now
};

std::optional<std::string> peer_subject(SSL* ssl_handle) {
  if (SSL_get_verify_result(ssl_handle) != X509_V_OK) return std::nullopt;
  X509* cert = SSL_get1_peer_certificate(ssl_handle);
  if (cert == nullptr) return std::nullopt;
  std::optional<std::string> out;
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio != nullptr) {
    if (X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
      char* data = nullptr;
      long len = BIO_get_mem_data(bio, &data);
      if (len >= 0 && data != nullptr) out = std::string(data, static_cast<size_t>(len));
    }
    BIO_free(bio);
  }
  X509_free(cert);
  return out;
}

std::string_view sv(boost::beast::string_view s) { return {s.data(), s.size()}; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

struct Server::Impl {
  // Declared before the io_context, so destroyed after it: a session that the io_context destroys
  // with its pending handlers still unregisters itself here.
  ServerOptions options;
  Router router;
  Observer observer;
  std::shared_ptr<Lifeline> lifeline = std::make_shared<Lifeline>();
  uint16_t bound_port = 0;
  std::atomic<bool> stopping{false};
  std::atomic<bool> finished{false};
  std::atomic<size_t> connections{0};
  std::mutex sessions_mu;
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions;
  std::mutex join_mu;
  bool joined = false;
  std::vector<std::thread> threads;
  std::optional<ssl::context> ssl_ctx;

  asio::io_context ioc;
  // The acceptor, the signals and the shutdown timer live on one strand.
  asio::strand<asio::io_context::executor_type> control = asio::make_strand(ioc);
  tcp::acceptor acceptor{control};
  asio::signal_set signals{control};
  asio::steady_timer grace_timer{control};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;

  void do_accept();
  void begin_stop();
  void check_drained();
  void finish();
  void register_session(const std::shared_ptr<SessionBase>& s) {
    std::lock_guard lock(sessions_mu);
    sessions.emplace(s.get(), s);
  }
  void unregister_session(SessionBase* s) {
    {
      std::lock_guard lock(sessions_mu);
      sessions.erase(s);
    }
    connections.fetch_sub(1);
    if (stopping.load() && !finished.load()) asio::post(control, [this] { check_drained(); });
  }
  std::vector<std::shared_ptr<SessionBase>> live_sessions() {
    std::vector<std::shared_ptr<SessionBase>> out;
    std::lock_guard lock(sessions_mu);
    for (auto& [_, weak] : sessions) {
      if (auto s = weak.lock()) out.push_back(std::move(s));
    }
    return out;
  }
};

namespace {

template <class Stream>
tcp::socket& lowest(Stream& s) {
  if constexpr (std::is_same_v<Stream, tcp::socket>) {
    return s;
  } else {
    return s.next_layer();
  }
}

}  // namespace

// One connection, plain (Stream = tcp::socket) or TLS (ssl::stream<tcp::socket>). Every handler
// runs on the connection's strand; a responder posts back to it from wherever it is called.
template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  template <class... Args>
  Session(Server::Impl& server, tcp::socket socket, Args&&... args)
      : server_(server),
        stream_(std::move(socket), std::forward<Args>(args)...),
        timer_(stream_.get_executor()) {
    boost::system::error_code ec;
    auto ep = lowest(stream_).remote_endpoint(ec);
    if (!ec) {
      peer_address_ = ep.address().to_string();
      peer_port_ = ep.port();
    }
  }

  ~Session() override { server_.unregister_session(this); }

  void start() {
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
      asio::dispatch(stream_.get_executor(),
                     [self = this->shared_from_this()] { self->read_header(); });
    } else {
      asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
        self->arm(self->server_.options.header_timeout);
        self->phase_ = Phase::kHandshake;
        self->stream_.async_handshake(
            ssl::stream_base::server, [self](boost::system::error_code ec) {
              self->disarm();
              if (ec) return self->close_now();
              self->tls_subject_ = peer_subject(self->stream_.native_handle());
              self->read_header();
            });
      });
    }
  }

  void begin_shutdown() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      self->stopping_ = true;
      if (self->phase_ == Phase::kIdle || self->phase_ == Phase::kHandshake) {
        self->close_now();
      }
    });
  }

  void force_close() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->close_now(); });
  }

 private:
  enum class Phase { kHandshake, kIdle, kHeader, kBody, kHandler, kWrite, kClosing, kClosed };

  // One timer per connection bounds whichever wait is current; a generation number keeps a
  // stale expiry (queued just as its operation finished) from cancelling the next operation.
  void arm(std::chrono::milliseconds d) {
    ++generation_;
    timed_out_ = false;
    timer_.expires_after(d);
    timer_.async_wait(
        [self = this->shared_from_this(), gen = generation_](boost::system::error_code ec) {
          if (ec || gen != self->generation_) return;
          self->timed_out_ = true;
          boost::system::error_code ignored;
          lowest(self->stream_).cancel(ignored);
        });
  }
  void disarm() {
    ++generation_;
    timer_.cancel();
  }

  bool has_buffered_input() {
    if (buffer_.size() > 0) return true;
    if constexpr (!std::is_same_v<Stream, tcp::socket>) {
      return SSL_pending(stream_.native_handle()) > 0;
    }
    return false;
  }

  // Between requests: wait for the next one's first byte under the idle timeout, so that the
  // header timeout then measures the header alone.
  void wait_next() {
    if (stopping_ || server_.stopping.load()) return close_now();
    if (has_buffered_input()) return read_header();
    phase_ = Phase::kIdle;
    arm(server_.options.idle_timeout);
    lowest(stream_).async_wait(tcp::socket::wait_read,
                               [self = this->shared_from_this()](boost::system::error_code ec) {
                                 self->disarm();
                                 if (ec || self->stopping_) return self->close_now();
                                 self->read_header();
                               });
  }

  void read_header() {
    phase_ = Phase::kHeader;
    started_ = SteadyClock::now();
    method_.clear();
    route_.clear();
    path_.clear();
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_.options.max_header_bytes));
    arm(server_.options.header_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = this->shared_from_this()](boost::system::error_code ec,
                                                               size_t) { self->on_header(ec); });
  }

  void on_header(boost::system::error_code ec) {
    bool timed_out = timed_out_;
    disarm();
    if (ec) {
      if (timed_out) return fail({408, "timeout", "the request header did not arrive in time"});
      if (ec == bhttp::error::header_limit) {
        return fail({431, "header_too_large", "the request header is too large"});
      }
      if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
          ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
        return fail({400, "bad_request", "the request is not well-formed HTTP/1.1"});
      }
      return close_now();  // the client went away
    }
    auto& req = parser_->get();
    method_ = std::string(sv(req.method_string()));
    Fields query;
    std::string path;
    if (!parse_target(sv(req.target()), path, query)) {
      return fail({400, "bad_request", "the request target is not a well-formed path"});
    }
    path_ = path;
    query_ = std::move(query);
    Router::Match m = server_.router.match(method_, path_);
    size_t limit = m.kind == Router::Match::Kind::kFound ? m.max_body_bytes : 0;
    bool has_body = req.chunked() || (parser_->content_length() && *parser_->content_length() > 0);
    if (m.kind != Router::Match::Kind::kFound && has_body) {
      // No route will read it: answer without reading, and close (the body is still on the wire).
      keep_alive_ = false;
      return dispatch();
    }
    if (parser_->content_length() && *parser_->content_length() > limit) {
      return fail({413, "body_too_large", "the request body is larger than this resource takes"});
    }
    parser_->body_limit(limit);
    if (parser_->is_done()) return on_body({});
    auto expect = req[bhttp::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      phase_ = Phase::kWrite;
      continue_.emplace(bhttp::status::continue_, 11);
      arm(server_.options.write_timeout);
      return bhttp::async_write(
          stream_, *continue_,
          [self = this->shared_from_this()](boost::system::error_code wec, size_t) {
            self->disarm();
            if (wec) return self->close_now();
            self->read_body();
          });
    }
    read_body();
  }

  void read_body() {
    phase_ = Phase::kBody;
    arm(server_.options.body_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](boost::system::error_code ec, size_t) {
                        self->on_body(ec);
                      });
  }

  void on_body(boost::system::error_code ec) {
    bool timed_out = timed_out_;
    disarm();
    if (ec) {
      if (timed_out) return fail({408, "timeout", "the request body did not arrive in time"});
      if (ec == bhttp::error::body_limit) {
        return fail({413, "body_too_large", "the request body is larger than this resource takes"});
      }
      if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
          ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
        return fail({400, "bad_request", "the request body is not well-formed HTTP/1.1"});
      }
      return close_now();
    }
    keep_alive_ = parser_->get().keep_alive();
    dispatch();
  }

  Request build_request() {
    auto& req = parser_->get();
    Request r;
    r.method = method_;
    r.path = path_;
    r.query = std::move(query_);
    for (const auto& field : req) {
      r.headers.emplace_back(lower(sv(field.name_string())), std::string(sv(field.value())));
    }
    if (parser_->is_done()) r.body = std::move(req.body());
    r.peer_address = peer_address_;
    r.peer_port = peer_port_;
    r.tls = !std::is_same_v<Stream, tcp::socket>;
    r.tls_peer_subject = tls_subject_;
    return r;
  }

  void dispatch() {
    phase_ = Phase::kHandler;
    Request request = build_request();
    Router::Match m = server_.router.match(method_, path_);
    if (m.kind == Router::Match::Kind::kFound) route_ = m.route;
    // The connection keeps itself alive while the handler works (no socket operation is pending
    // then); the responder holds it only weakly, so a late answer after stop() finds nothing.
    self_hold_ = this->shared_from_this();
    std::weak_ptr<Lifeline> weak_life = server_.lifeline;
    std::weak_ptr<Session> weak_self = self_hold_;
    server_.router.dispatch(std::move(request), [weak_self, weak_life](Response response) {
      auto life = weak_life.lock();
      if (!life) return;
      std::lock_guard lock(life->mu);
      if (!life->alive) return;
      if (auto self = weak_self.lock()) {
        asio::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
          self->write(std::move(response));
        });
      }
    });
  }

  void fail(const ServerError& error) {
    keep_alive_ = false;
    write(server_.router.error(path_, error));
  }

  void write(Response response) {
    auto hold = std::move(self_hold_);
    if (phase_ == Phase::kClosed || phase_ == Phase::kClosing) return;
    phase_ = Phase::kWrite;
    status_ = response.status;
    bool keep = keep_alive_ && !stopping_ && !server_.stopping.load();
    res_.emplace(static_cast<bhttp::status>(response.status), 11);
    res_->set(bhttp::field::server, "samordna");
    for (auto& [name, value] : response.headers) res_->set(name, value);
    res_->body() = std::move(response.body);
    res_->keep_alive(keep);
    res_->prepare_payload();
    arm(server_.options.write_timeout);
    bhttp::async_write(
        stream_, *res_,
        [self = this->shared_from_this(), keep](boost::system::error_code ec, size_t) {
          self->disarm();
          self->observe();
          if (ec) return self->close_now();
          self->res_.reset();
          if (!keep) return self->linger_close();
          self->wait_next();
        });
  }

  void observe() {
    if (!server_.observer) return;
    RequestRecord record;
    record.method = method_;
    record.route = route_;
    record.status = status_;
    record.latency = SteadyClock::now() - started_;
    try {
      server_.observer(record);
    } catch (...) {
      // A metrics hook must not take the connection down.
    }
  }

  // Sends FIN, then reads and drops what the client still sends (a body we did not read) for a
  // short while before closing, so the client reads our answer instead of a reset.
  void linger_close() {
    phase_ = Phase::kClosing;
    boost::system::error_code ignored;
    lowest(stream_).shutdown(tcp::socket::shutdown_send, ignored);
    arm(std::min(server_.options.write_timeout, std::chrono::milliseconds(2000)));
    drain();
  }
  void drain() {
    lowest(stream_).async_read_some(
        asio::buffer(drain_buf_),
        [self = this->shared_from_this()](boost::system::error_code ec, size_t) {
          if (ec) {
            self->disarm();
            return self->close_now();
          }
          self->drain();
        });
  }

  void close_now() {
    auto hold = std::move(self_hold_);
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kClosed;
    disarm();
    boost::system::error_code ignored;
    lowest(stream_).shutdown(tcp::socket::shutdown_both, ignored);
    lowest(stream_).close(ignored);
  }

  Server::Impl& server_;
  std::shared_ptr<Session> self_hold_;
  Stream stream_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::string_body>> res_;
  std::optional<bhttp::response<bhttp::empty_body>> continue_;
  std::array<char, 4096> drain_buf_{};
  Phase phase_ = Phase::kIdle;
  uint64_t generation_ = 0;
  bool timed_out_ = false;
  bool keep_alive_ = true;
  bool stopping_ = false;
  std::string peer_address_;
  uint16_t peer_port_ = 0;
  std::optional<std::string> tls_subject_;
  SteadyClock::time_point started_ = SteadyClock::now();
  std::string method_, route_, path_;
  Fields query_;
  int status_ = 0;
};

void Server::Impl::do_accept() {
  acceptor.async_accept(
      asio::make_strand(ioc), [this](boost::system::error_code ec, tcp::socket socket) {
        if (ec) {
          if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
          // Out of file descriptors and the like: keep accepting; the error names no client.
          spdlog::warn("http: accept failed: {}", ec.message());
          return do_accept();
        }
        if (stopping.load()) return;
        if (connections.load() >= options.max_connections) {
          boost::system::error_code ignored;
          socket.close(ignored);
          return do_accept();
        }
        connections.fetch_add(1);
        if (ssl_ctx) {
          auto s = std::make_shared<Session<ssl::stream<tcp::socket>>>(*this, std::move(socket),
                                                                       *ssl_ctx);
          register_session(s);
          s->start();
        } else {
          auto s = std::make_shared<Session<tcp::socket>>(*this, std::move(socket));
          register_session(s);
          s->start();
        }
        do_accept();
      });
}

void Server::Impl::begin_stop() {
  if (stopping.exchange(true)) return;
  asio::post(control, [this] {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    signals.cancel(ignored);
    for (auto& s : live_sessions()) s->begin_shutdown();
    grace_timer.expires_after(options.shutdown_grace);
    grace_timer.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      for (auto& s : live_sessions()) s->force_close();
      // Whatever still holds a session (an async handler that never answers) is cut off here.
      asio::post(control, [this] { finish(); });
    });
    check_drained();
  });
}

void Server::Impl::check_drained() {
  if (connections.load() == 0) finish();
}

void Server::Impl::finish() {
  if (finished.exchange(true)) return;
  grace_timer.cancel();
  {
    std::lock_guard lock(lifeline->mu);
    lifeline->alive = false;
  }
  work.reset();
  ioc.stop();
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  stop();
  wait();
}

uint16_t Server::port() const { return impl_->bound_port; }

void Server::stop() { impl_->begin_stop(); }

void Server::wait() {
  std::lock_guard lock(impl_->join_mu);
  if (impl_->joined) return;
  for (auto& t : impl_->threads) t.join();
  impl_->joined = true;
}

size_t Server::open_connections() const { return impl_->connections.load(); }

Result<std::unique_ptr<Server>> Server::start(ServerOptions options, Router router,
                                              Observer observer) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->router = std::move(router);
  impl->observer = std::move(observer);
  const ServerOptions& o = impl->options;
  if (o.threads < 1) return fail(Errc::kInvalidArgument, "http: threads must be at least 1");

  if (o.tls) {
    impl->ssl_ctx.emplace(ssl::context::tls_server);
    auto& ctx = *impl->ssl_ctx;
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                    ssl::context::single_dh_use);
    boost::system::error_code ec;
    ctx.use_certificate_chain_file(o.tls->cert_file, ec);
    if (ec)
      return fail(Errc::kInvalidArgument,
                  "http: cannot load the TLS certificate " + o.tls->cert_file);
    ctx.use_private_key_file(o.tls->key_file, ssl::context::pem, ec);
    if (ec) return fail(Errc::kInvalidArgument, "http: cannot load the TLS key " + o.tls->key_file);
    if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
      return fail(Errc::kInvalidArgument, "http: the TLS key " + o.tls->key_file +
                                              " does not belong to the certificate " +
                                              o.tls->cert_file);
    }
    if (!o.tls->client_ca_file.empty()) {
      ctx.load_verify_file(o.tls->client_ca_file, ec);
      if (ec) {
        return fail(Errc::kInvalidArgument,
                    "http: cannot load the client CA file " + o.tls->client_ca_file);
      }
      STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.tls->client_ca_file.c_str());
      if (names != nullptr) SSL_CTX_set_client_CA_list(ctx.native_handle(), names);
      static const unsigned char kSessionContext[] = "samordna";
      SSL_CTX_set_session_id_context(ctx.native_handle(), kSessionContext,
                                     sizeof(kSessionContext) - 1);
      ctx.set_verify_mode(
          ssl::verify_peer |
          (o.tls->require_client_cert ? ssl::verify_fail_if_no_peer_cert : ssl::verify_none));
    }
  }

  boost::system::error_code ec;
  auto address = asio::ip::make_address(o.address, ec);
  if (ec) return fail(Errc::kInvalidArgument, "http: not an IP address: " + o.address);
  tcp::endpoint endpoint(address, o.port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return fail(Errc::kIo, "http: cannot listen on " + o.address + ":" + std::to_string(o.port) +
                               ": " + ec.message());
  }
  impl->bound_port = impl->acceptor.local_endpoint().port();

  if (o.stop_on_signals) {
    impl->signals.add(SIGTERM);
    impl->signals.add(SIGINT);
    impl->signals.async_wait([raw = impl.get()](boost::system::error_code sec, int) {
      if (!sec) raw->begin_stop();
    });
  }
  impl->work.emplace(impl->ioc.get_executor());
  impl->do_accept();
  for (int i = 0; i < o.threads; ++i) {
    impl->threads.emplace_back([raw = impl.get()] {
      try {
        raw->ioc.run();
      } catch (const std::exception& e) {
        // A thread root: a throw here is a bug in this server (docs/errors.md).
        spdlog::critical("http: server thread threw: {}", e.what());
        std::abort();
      }
    });
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

}  // namespace samordna::http
