package org.lwm2md.testserver;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.eclipse.leshan.core.node.LwM2mPath;
import org.eclipse.leshan.core.node.TimestampedLwM2mNodes;
import org.eclipse.leshan.core.observation.CompositeObservation;
import org.eclipse.leshan.core.observation.Observation;
import org.eclipse.leshan.core.observation.SingleObservation;
import org.eclipse.leshan.core.request.SendRequest;
import org.eclipse.leshan.core.response.ObserveCompositeResponse;
import org.eclipse.leshan.core.response.ObserveResponse;
import org.eclipse.leshan.server.LeshanServer;
import org.eclipse.leshan.server.observation.ObservationListener;
import org.eclipse.leshan.server.queue.PresenceListener;
import org.eclipse.leshan.server.registration.Registration;
import org.eclipse.leshan.server.registration.RegistrationListener;
import org.eclipse.leshan.server.registration.RegistrationUpdate;
import org.eclipse.leshan.server.send.SendListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;

/**
 * GET /api/event[?ep=X] : Server-Sent Events stream of what Leshan reports (REGISTRATION, UPDATED, DEREGISTRATION,
 * NOTIFICATION, SEND, SLEEPING, AWAKE, REQUEST_RESPONSE). Same event names and payloads as the Leshan demo server.
 */
final class EventHub implements HttpHandler {

    private static final Logger LOG = LoggerFactory.getLogger(EventHub.class);
    private static final long HEARTBEAT_PERIOD_S = 10;

    private final ObjectMapper mapper;
    private final ScheduledExecutorService scheduler;
    private final Set<Stream> streams = ConcurrentHashMap.newKeySet();

    /** One open event stream (one HTTP client). */
    private final class Stream {
        final String endpoint; // null = all endpoints
        final OutputStream out;
        final CountDownLatch closed = new CountDownLatch(1);

        Stream(String endpoint, OutputStream out) {
            this.endpoint = endpoint;
            this.out = out;
        }

        synchronized void write(String text) {
            if (closed.getCount() == 0) {
                return;
            }
            try {
                out.write(text.getBytes(StandardCharsets.UTF_8));
                out.flush();
            } catch (IOException e) {
                LOG.debug("Event stream closed by peer: {}", e.toString());
                close();
            }
        }

        void close() {
            streams.remove(this);
            closed.countDown();
        }
    }

    EventHub(LeshanServer server, ObjectMapper mapper, ScheduledExecutorService scheduler) {
        this.mapper = mapper;
        this.scheduler = scheduler;
        server.getRegistrationService().addListener(registrationListener);
        server.getObservationService().addListener(observationListener);
        server.getPresenceService().addListener(presenceListener);
        server.getSendService().addListener(sendListener);
        scheduler.scheduleAtFixedRate(this::heartbeat, HEARTBEAT_PERIOD_S, HEARTBEAT_PERIOD_S, TimeUnit.SECONDS);
    }

    // ------------------------------------------------------------------ HTTP side

    @Override
    public void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            Http.Request req = new Http.Request(exchange, "/api/event");
            if (!"GET".equals(req.method) || !acceptsEventStream(exchange)) {
                Http.send(exchange, Http.METHOD_NOT_ALLOWED, "text/plain; charset=UTF-8",
                        "This URL serves Server-Sent Events: GET it with 'Accept: text/event-stream'"
                                .getBytes(StandardCharsets.UTF_8));
                return;
            }
            exchange.getResponseHeaders().set("Content-Type", "text/event-stream;charset=utf-8");
            exchange.getResponseHeaders().set("Cache-Control", "no-cache");
            exchange.sendResponseHeaders(Http.OK, 0); // chunked, open-ended
            Stream stream = new Stream(req.param("ep"), exchange.getResponseBody());
            streams.add(stream);
            exchange.getResponseBody().flush(); // push the headers now: the stream is open
            LOG.debug("Event stream opened (ep={}), {} open", stream.endpoint, streams.size());
            try {
                stream.closed.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                stream.close();
            }
        }
    }

    private static boolean acceptsEventStream(HttpExchange exchange) {
        List<String> accepts = exchange.getRequestHeaders().get("Accept");
        if (accepts == null) {
            return false;
        }
        for (String accept : accepts) {
            for (String type : accept.split(",")) {
                if (type.trim().startsWith("text/event-stream")) {
                    return true;
                }
            }
        }
        return false;
    }

    private void heartbeat() {
        for (Stream stream : streams) {
            // two writes: if the peer is gone, the first one draws a TCP reset that makes the second one fail
            stream.write(": heartbeat\r\n");
            stream.write("\r\n");
        }
    }

    /** Push an event to every stream listening to this endpoint (or to all endpoints). */
    void sendEvent(String event, String data, String endpoint) {
        LOG.debug("Dispatching {} event from endpoint {}", event, endpoint);
        StringBuilder text = new StringBuilder();
        text.append("event: ").append(event).append("\r\n");
        for (String line : data.split("\r?\n")) {
            text.append("data: ").append(line).append("\r\n");
        }
        text.append("\r\n");
        String message = text.toString();
        for (Stream stream : new ArrayList<>(streams)) {
            if (stream.endpoint == null || stream.endpoint.equals(endpoint)) {
                stream.write(message);
            }
        }
    }

    void closeAll() {
        for (Stream stream : new ArrayList<>(streams)) {
            stream.close();
        }
    }

    private String json(Object value) {
        return Json.write(mapper, value);
    }

    private ObjectNode epEvent(Registration registration) {
        ObjectNode node = mapper.createObjectNode();
        node.put("ep", registration.getEndpoint());
        return node;
    }

    // ------------------------------------------------------------------ Leshan side

    private final RegistrationListener registrationListener = new RegistrationListener() {
        @Override
        public void registered(Registration registration, Registration previousReg,
                Collection<Observation> previousObservations) {
            sendEvent("REGISTRATION", json(registration), registration.getEndpoint());
        }

        @Override
        public void updated(RegistrationUpdate update, Registration updatedRegistration,
                Registration previousRegistration) {
            ObjectNode data = mapper.createObjectNode();
            data.set("registration", mapper.valueToTree(updatedRegistration));
            data.set("update", mapper.valueToTree(update));
            sendEvent("UPDATED", json(data), updatedRegistration.getEndpoint());
        }

        @Override
        public void unregistered(Registration registration, Collection<Observation> observations, boolean expired,
                Registration newReg) {
            sendEvent("DEREGISTRATION", json(registration), registration.getEndpoint());
        }
    };

    private final PresenceListener presenceListener = new PresenceListener() {
        @Override
        public void onSleeping(Registration registration) {
            sendEvent("SLEEPING", json(epEvent(registration)), registration.getEndpoint());
        }

        @Override
        public void onAwake(Registration registration) {
            sendEvent("AWAKE", json(epEvent(registration)), registration.getEndpoint());
        }
    };

    private final ObservationListener observationListener = new ObservationListener() {
        @Override
        public void newObservation(Observation observation, Registration registration) {
        }

        @Override
        public void cancelled(Observation observation) {
        }

        @Override
        public void onResponse(SingleObservation observation, Registration registration, ObserveResponse response) {
            if (registration == null) {
                return;
            }
            ObjectNode data = epEvent(registration);
            data.put("kind", "single");
            data.put("res", observation.getPath().toString());
            data.set("val", mapper.valueToTree(response.getContent()));
            sendEvent("NOTIFICATION", json(data), registration.getEndpoint());
        }

        @Override
        public void onResponse(CompositeObservation observation, Registration registration,
                ObserveCompositeResponse response) {
            if (registration == null) {
                return;
            }
            ObjectNode data = epEvent(registration);
            data.put("kind", "composite");
            data.set("val", mapper.valueToTree(response.getContent()));
            List<String> paths = new ArrayList<>();
            for (LwM2mPath path : response.getObservation().getPaths()) {
                paths.add(path.toString());
            }
            data.set("paths", mapper.valueToTree(paths));
            sendEvent("NOTIFICATION", json(data), registration.getEndpoint());
        }

        @Override
        public void onError(Observation observation, Registration registration, Exception error) {
            LOG.warn("Unable to handle notification of [{}]", observation, error);
        }
    };

    private final SendListener sendListener = new SendListener() {
        @Override
        public void dataReceived(Registration registration, TimestampedLwM2mNodes nodes, SendRequest request) {
            if (registration == null) {
                return;
            }
            ObjectNode data = epEvent(registration);
            data.set("val", mapper.valueToTree(nodes.getMostRecentNodes()));
            sendEvent("SEND", json(data), registration.getEndpoint());
        }

        @Override
        public void onError(Registration registration, String errorMessage, Exception error) {
            LOG.warn("Unable to handle Send request from [{}]: {}", registration, errorMessage, error);
        }
    };
}
