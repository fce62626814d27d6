package org.lwm2md.testserver;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;

/**
 * Minimal request/response helpers on top of the JDK's built-in HTTP server, giving handlers a servlet-like view
 * (path info below the mount point, decoded query parameters, buffered response).
 */
final class Http {

    private static final Logger LOG = LoggerFactory.getLogger(Http.class);

    static final int OK = 200;
    static final int BAD_REQUEST = 400;
    static final int NOT_FOUND = 404;
    static final int METHOD_NOT_ALLOWED = 405;
    static final int INTERNAL_SERVER_ERROR = 500;
    static final int GATEWAY_TIMEOUT = 504;

    private Http() {
    }

    /** A request, seen relative to the prefix its handler is mounted on. */
    static final class Request {
        final HttpExchange exchange;
        final String method;
        /** Decoded path below the mount point ("/ep/3/0"), or null when the mount point itself was requested. */
        final String pathInfo;
        /** Raw (undecoded) query string, or null. */
        final String queryString;
        private final Map<String, String> params = new LinkedHashMap<>();
        private byte[] body;

        Request(HttpExchange exchange, String mount) {
            this.exchange = exchange;
            this.method = exchange.getRequestMethod().toUpperCase();
            String path = exchange.getRequestURI().getPath();
            String rest = path.length() > mount.length() ? path.substring(mount.length()) : "";
            this.pathInfo = rest.isEmpty() ? null : rest;
            this.queryString = exchange.getRequestURI().getRawQuery();
            if (queryString != null) {
                for (String pair : queryString.split("&")) {
                    if (pair.isEmpty()) {
                        continue;
                    }
                    int eq = pair.indexOf('=');
                    String name = decode(eq < 0 ? pair : pair.substring(0, eq));
                    String value = eq < 0 ? "" : decode(pair.substring(eq + 1));
                    params.putIfAbsent(name, value);
                }
            }
        }

        private static String decode(String s) {
            return URLDecoder.decode(s, StandardCharsets.UTF_8);
        }

        /** Query parameter value ("" for a bare name), or null when absent. */
        String param(String name) {
            return params.get(name);
        }

        /** Path segments of pathInfo, empty ones dropped. */
        String[] segments() {
            List<String> result = new ArrayList<>();
            if (pathInfo != null) {
                for (String s : pathInfo.split("/")) {
                    if (!s.isEmpty()) {
                        result.add(s);
                    }
                }
            }
            return result.toArray(new String[0]);
        }

        /** Media type of the body without parameters, or null. */
        String contentType() {
            String ct = exchange.getRequestHeaders().getFirst("Content-Type");
            if (ct == null) {
                return null;
            }
            int semi = ct.indexOf(';');
            return (semi < 0 ? ct : ct.substring(0, semi)).trim();
        }

        byte[] body() throws IOException {
            if (body == null) {
                body = exchange.getRequestBody().readAllBytes();
            }
            return body;
        }

        String bodyAsString() throws IOException {
            return new String(body(), StandardCharsets.UTF_8);
        }

        @Override
        public String toString() {
            return method + " - " + exchange.getRequestURI();
        }
    }

    /** A buffered response, sent once the handler returns. */
    static final class Response {
        int status = OK;
        String contentType;
        final ByteArrayOutputStream body = new ByteArrayOutputStream();

        void json(String json) {
            status = OK;
            contentType = "application/json";
            write(json);
        }

        /** Plain text error/info message, like the demo's error responses. */
        void text(int code, String message) {
            status = code;
            contentType = "text/plain; charset=UTF-8";
            body.reset();
            if (message != null) {
                write(message);
            }
        }

        void write(String s) {
            body.writeBytes(s.getBytes(StandardCharsets.UTF_8));
        }
    }

    interface Handler {
        void handle(Request req, Response resp) throws Exception;
    }

    /** Mount a handler on a path prefix ("/api/clients" serves "/api/clients" and "/api/clients/..."). */
    static HttpHandler mount(String prefix, Handler handler) {
        return exchange -> {
            try (exchange) {
                String path = exchange.getRequestURI().getPath();
                if (!path.equals(prefix) && !path.startsWith(prefix + "/") && !prefix.equals("/")) {
                    send(exchange, NOT_FOUND, "text/plain; charset=UTF-8", "Not Found".getBytes(StandardCharsets.UTF_8));
                    return;
                }
                Request req = new Request(exchange, prefix.equals("/") ? "" : prefix);
                Response resp = new Response();
                try {
                    handler.handle(req, resp);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    resp.text(INTERNAL_SERVER_ERROR, "Thread Interrupted handling " + req);
                } catch (Exception e) {
                    LOG.warn("Unexpected error handling {}", req, e);
                    resp.text(INTERNAL_SERVER_ERROR, String.format("Unexpected error handling %s : %s", req, e));
                }
                send(exchange, resp.status, resp.contentType, resp.body.toByteArray());
            } catch (IOException e) {
                LOG.debug("Unable to send HTTP response: {}", e.toString());
            }
        };
    }

    static void send(HttpExchange exchange, int status, String contentType, byte[] body) throws IOException {
        if (contentType != null) {
            exchange.getResponseHeaders().set("Content-Type", contentType);
        }
        exchange.getResponseHeaders().set("Cache-Control", "no-cache");
        if (body.length == 0) {
            exchange.sendResponseHeaders(status, -1);
        } else {
            exchange.sendResponseHeaders(status, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
    }
}
