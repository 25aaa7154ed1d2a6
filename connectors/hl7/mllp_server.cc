#include "connectors/hl7/mllp_server.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "connectors/hl7/mllp_framer.h"

namespace samordna::hl7 {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

// Frames received and not yet answered on one connection beyond which reading pauses.
constexpr std::size_t kMaxQueuedFrames = 32;

}  // namespace

// What the server keeps of a connection, whatever its stream.
class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  virtual void start() = 0;
  virtual void stop() = 0;         // graceful: answer what was received, then close
  virtual void force_close() = 0;  // now
};

struct MllpServer::Impl : std::enable_shared_from_this<MllpServer::Impl> {
  Impl(Acknowledger& a, ServerOptions o)
      : acknowledger(a),
        options(std::move(o)),
        acceptor(io),
        guard(asio::make_work_guard(io)),
        strand(asio::make_strand(io)),
        stop_timer(strand),
        signals(strand) {}

  Acknowledger& acknowledger;
  ServerOptions options;
  asio::io_context io;
  tcp::acceptor acceptor;
  std::optional<asio::ssl::context> tls;
  asio::executor_work_guard<asio::io_context::executor_type> guard;
  // Server-wide steps (stop, its timer, the signals) run here, one at a time.
  asio::strand<asio::io_context::executor_type> strand;
  asio::steady_timer stop_timer;
  asio::signal_set signals;

  mutable std::mutex mutex;
  std::set<std::weak_ptr<ConnectionBase>, std::owner_less<std::weak_ptr<ConnectionBase>>> live;
  ServerStats stats;
  bool stopping = false;

  void accept();
  void closed(const std::weak_ptr<ConnectionBase>& c, uint64_t discarded) {
    bool done = false;
    {
      std::lock_guard lock(mutex);
      live.erase(c);
      stats.discarded_bytes += discarded;
      done = stopping && live.empty();
    }
    if (done) finish();
  }
  void finish() {
    asio::post(strand, [self = shared_from_this()] {
      self->stop_timer.cancel();
      self->signals.cancel();
      self->guard.reset();
    });
  }
  void begin_stop() {
    std::vector<std::shared_ptr<ConnectionBase>> conns;
    {
      std::lock_guard lock(mutex);
      if (stopping) return;
      stopping = true;
      for (const auto& w : live) {
        if (auto c = w.lock()) conns.push_back(std::move(c));
      }
    }
    spdlog::info("hl7 listen: stopping; answering what {} connection(s) sent", conns.size());
    asio::post(io, [self = shared_from_this()] {
      error_code ignored;
      self->acceptor.close(ignored);
    });
    for (auto& c : conns) c->stop();
    stop_timer.expires_after(options.stop_bound);
    stop_timer.async_wait([self = shared_from_this()](error_code ec) {
      if (ec) return;
      std::vector<std::shared_ptr<ConnectionBase>> left;
      {
        std::lock_guard lock(self->mutex);
        for (const auto& w : self->live) {
          if (auto c = w.lock()) left.push_back(std::move(c));
        }
      }
      if (!left.empty()) {
        spdlog::warn("hl7 listen: {} connection(s) closed at the stop bound", left.size());
      }
      for (auto& c : left) c->force_close();
      self->guard.reset();
    });
    bool done = false;
    {
      std::lock_guard lock(mutex);
      done = live.empty();
    }
    if (done) finish();
  }
};

namespace {

template <class Stream>
class Connection : public ConnectionBase, public std::enable_shared_from_this<Connection<Stream>> {
 public:
  Connection(std::shared_ptr<MllpServer::Impl> server, Stream stream, std::string peer)
      : server_(std::move(server)),
        stream_(std::move(stream)),
        idle_(stream_.get_executor()),
        framer_(server_->options.max_frame_bytes),
        peer_(std::move(peer)) {}

  ~Connection() override { server_->closed(self_, framer_.discarded_bytes()); }

  void start() override {
    self_ = this->weak_from_this();
    arm_idle();
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
      read();
    } else {
      stream_.async_handshake(asio::ssl::stream_base::server, [self = this->shared_from_this()](
                                                                  error_code ec) {
        if (ec) {
          spdlog::warn("hl7 listen: TLS handshake with {} failed: {}", self->peer_, ec.message());
          return self->close();
        }
        self->read();
      });
    }
  }

  void stop() override {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      self->closing_ = true;
      if (!self->busy_ && self->frames_.empty()) return self->close();
      // Stop reading; what was received is still answered (pump closes when it is done).
      self->pump();
    });
  }

  void force_close() override {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->close(); });
  }

 private:
  tcp::socket& socket() {
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
      return stream_;
    } else {
      return stream_.next_layer();
    }
  }

  void arm_idle() {
    idle_.expires_after(server_->options.idle_timeout);
    idle_.async_wait([weak = this->weak_from_this()](error_code ec) {
      if (ec) return;
      auto self = weak.lock();
      if (!self || self->closed_) return;
      if (self->busy_ || !self->frames_.empty()) return self->arm_idle();
      {
        std::lock_guard lock(self->server_->mutex);
        ++self->server_->stats.idle_closed;
      }
      self->close();
    });
  }

  void read() {
    if (closed_ || closing_ || reading_ || frames_.size() >= kMaxQueuedFrames) return;
    reading_ = true;
    stream_.async_read_some(
        asio::buffer(buf_), [self = this->shared_from_this()](error_code ec, std::size_t n) {
          self->reading_ = false;
          if (ec) {
            // EOF or a reset: answer what was received (the sender may still read), then close.
            self->closing_ = true;
            if (ec != asio::error::eof && ec != asio::error::operation_aborted) {
              spdlog::debug("hl7 listen: read from {}: {}", self->peer_, ec.message());
            }
            return self->pump();
          }
          self->arm_idle();
          self->framer_.feed(std::string_view(self->buf_.data(), n));
          while (self->framer_.has_next()) self->frames_.push_back(self->framer_.next());
          self->pump();
          self->read();
        });
  }

  // Takes the next frame when no message is in flight.
  void pump() {
    if (closed_ || busy_) return;
    if (frames_.empty()) {
      if (closing_) close();
      return;
    }
    auto frame = std::move(frames_.front());
    frames_.pop_front();
    busy_ = true;
    {
      std::lock_guard lock(server_->mutex);
      ++server_->stats.frames;
      if (!frame) ++server_->stats.framing_errors;
    }
    if (!frame) return write(server_->acknowledger.framing_reject(frame.error().message));
    server_->acknowledger.handle(
        std::move(frame).value(), [self = this->shared_from_this()](std::string ack) {
          asio::post(self->stream_.get_executor(),
                     [self, ack = std::move(ack)]() mutable { self->write(std::move(ack)); });
        });
    read();  // a paused read may go on
  }

  void write(std::string ack) {
    if (closed_) return;
    if (ack.empty()) {  // the sender asked for no ACK
      busy_ = false;
      pump();
      return read();
    }
    out_ = MllpFramer::frame(ack);
    asio::async_write(stream_, asio::buffer(out_),
                      [self = this->shared_from_this()](error_code ec, std::size_t) {
                        self->busy_ = false;
                        if (ec) return self->close();
                        self->pump();
                        self->read();
                      });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    error_code ignored;
    idle_.cancel();
    socket().shutdown(tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
  }

  std::shared_ptr<MllpServer::Impl> server_;
  std::weak_ptr<ConnectionBase> self_;
  Stream stream_;
  asio::steady_timer idle_;
  MllpFramer framer_;
  std::string peer_;
  std::array<char, 64 * 1024> buf_;
  std::deque<Result<std::string>> frames_;
  std::string out_;
  bool busy_ = false;     // a message is with the acknowledger or its ACK being written
  bool reading_ = false;  // a read is pending
  bool closing_ = false;  // no more reads; close once what was received is answered
  bool closed_ = false;
};

}  // namespace

void MllpServer::Impl::accept() {
  acceptor.async_accept(
      asio::make_strand(io), [self = shared_from_this()](error_code ec, tcp::socket socket) {
        if (ec) {
          if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
          spdlog::warn("hl7 listen: accept: {}", ec.message());
          return self->accept();
        }
        error_code ignored;
        const auto remote = socket.remote_endpoint(ignored);
        const std::string peer = remote.address().to_string() + ":" + std::to_string(remote.port());
        bool refuse = false;
        {
          std::lock_guard lock(self->mutex);
          refuse = self->stopping || self->live.size() >= self->options.max_connections;
          if (refuse) {
            ++self->stats.refused_connections;
          } else {
            ++self->stats.accepted_connections;
          }
        }
        if (refuse) {
          spdlog::warn("hl7 listen: connection from {} refused (at max_connections {})", peer,
                       self->options.max_connections);
          socket.close(ignored);
          return self->accept();
        }
        socket.set_option(tcp::socket::keep_alive(true), ignored);
        socket.set_option(tcp::no_delay(true), ignored);
        std::shared_ptr<ConnectionBase> c;
        if (self->tls) {
          c = std::make_shared<Connection<asio::ssl::stream<tcp::socket>>>(
              self, asio::ssl::stream<tcp::socket>(std::move(socket), *self->tls), peer);
        } else {
          c = std::make_shared<Connection<tcp::socket>>(self, std::move(socket), peer);
        }
        {
          std::lock_guard lock(self->mutex);
          self->live.insert(c);
        }
        c->start();
        self->accept();
      });
}

Result<std::unique_ptr<MllpServer>> MllpServer::create(Acknowledger& acknowledger,
                                                       ServerOptions options) {
  auto impl = std::make_shared<Impl>(acknowledger, std::move(options));
  const auto& o = impl->options;
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    return fail(Errc::kInvalidArgument, "TLS needs both a certificate and a key file");
  }
  if (!o.tls_cert.empty()) {
    impl->tls.emplace(asio::ssl::context::tls_server);
    error_code ec;
    impl->tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                               asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                               asio::ssl::context::no_tlsv1_1,
                           ec);
    impl->tls->use_certificate_chain_file(o.tls_cert, ec);
    if (ec)
      return fail(Errc::kInvalidArgument, "TLS certificate " + o.tls_cert + ": " + ec.message());
    impl->tls->use_private_key_file(o.tls_key, asio::ssl::context::pem, ec);
    if (ec) return fail(Errc::kInvalidArgument, "TLS key " + o.tls_key + ": " + ec.message());
  }
  error_code ec;
  const auto address = asio::ip::make_address(o.bind_address, ec);
  if (ec) return fail(Errc::kInvalidArgument, "bad bind address " + o.bind_address);
  const tcp::endpoint endpoint(address, o.port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return fail(Errc::kUnavailable, "cannot listen on " + o.bind_address + ":" +
                                        std::to_string(o.port) + ": " + ec.message());
  }
  return std::unique_ptr<MllpServer>(new MllpServer(std::move(impl)));
}

MllpServer::MllpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

MllpServer::~MllpServer() { impl_->io.stop(); }

uint16_t MllpServer::port() const { return impl_->acceptor.local_endpoint().port(); }

void MllpServer::run(bool signals) {
  if (signals) {
    impl_->signals.add(SIGTERM);
    impl_->signals.add(SIGINT);
    impl_->signals.async_wait([impl = impl_](error_code ec, int) {
      if (!ec) impl->begin_stop();
    });
  }
  impl_->accept();
  std::vector<std::thread> threads;
  for (int i = 1; i < impl_->options.threads; ++i) {
    threads.emplace_back([this] { impl_->io.run(); });
  }
  impl_->io.run();
  for (auto& t : threads) t.join();
}

void MllpServer::stop() {
  asio::post(impl_->strand, [impl = impl_] { impl->begin_stop(); });
}

ServerStats MllpServer::stats() const {
  std::lock_guard lock(impl_->mutex);
  ServerStats s = impl_->stats;
  s.open_connections = impl_->live.size();
  return s;
}

}  // namespace samordna::hl7
