package org.lwm2md.testserver;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

import org.eclipse.leshan.core.link.attributes.InvalidAttributeException;
import org.eclipse.leshan.core.link.lwm2m.attributes.DefaultLwM2mAttributeParser;
import org.eclipse.leshan.core.link.lwm2m.attributes.LwM2mAttributeParser;
import org.eclipse.leshan.core.link.lwm2m.attributes.LwM2mAttributeSet;
import org.eclipse.leshan.core.node.LwM2mChildNode;
import org.eclipse.leshan.core.node.LwM2mNode;
import org.eclipse.leshan.core.node.LwM2mObjectInstance;
import org.eclipse.leshan.core.node.LwM2mPath;
import org.eclipse.leshan.core.node.LwM2mSingleResource;
import org.eclipse.leshan.core.node.codec.CodecException;
import org.eclipse.leshan.core.observation.CompositeObservation;
import org.eclipse.leshan.core.observation.Observation;
import org.eclipse.leshan.core.observation.SingleObservation;
import org.eclipse.leshan.core.request.CancelCompositeObservationRequest;
import org.eclipse.leshan.core.request.CancelObservationRequest;
import org.eclipse.leshan.core.request.ContentFormat;
import org.eclipse.leshan.core.request.CreateRequest;
import org.eclipse.leshan.core.request.DeleteRequest;
import org.eclipse.leshan.core.request.DiscoverRequest;
import org.eclipse.leshan.core.request.DownlinkDeviceManagementRequest;
import org.eclipse.leshan.core.request.ExecuteRequest;
import org.eclipse.leshan.core.request.ObserveCompositeRequest;
import org.eclipse.leshan.core.request.ObserveRequest;
import org.eclipse.leshan.core.request.ReadCompositeRequest;
import org.eclipse.leshan.core.request.ReadRequest;
import org.eclipse.leshan.core.request.SimpleDownlinkRequest;
import org.eclipse.leshan.core.request.WriteAttributesRequest;
import org.eclipse.leshan.core.request.WriteCompositeRequest;
import org.eclipse.leshan.core.request.WriteRequest;
import org.eclipse.leshan.core.request.exception.ClientSleepingException;
import org.eclipse.leshan.core.request.exception.InvalidRequestException;
import org.eclipse.leshan.core.request.exception.InvalidResponseException;
import org.eclipse.leshan.core.request.exception.RequestCanceledException;
import org.eclipse.leshan.core.request.exception.RequestRejectedException;
import org.eclipse.leshan.core.response.LwM2mResponse;
import org.eclipse.leshan.server.LeshanServer;
import org.eclipse.leshan.server.registration.Registration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * /api/clients/* : registrations and device management, same routes, parameters and answers as the Leshan demo
 * server's ClientServlet. Every LwM2M request is built and sent by Leshan.
 */
final class ClientsApi implements Http.Handler {

    private static final Logger LOG = LoggerFactory.getLogger(ClientsApi.class);

    private static final String NO_REGISTERED_CLIENT = "No registered client with id '%s'";
    private static final String INVALID_PATH = "Invalid path";
    private static final String OBSERVE = "observe";
    private static final String COMPOSITE = "composite";
    private static final long DEFAULT_TIMEOUT_MS = 5000;

    private final LeshanServer server;
    private final ObjectMapper mapper;
    private final EventHub events;
    private final RequestQueue queue;
    private final LwM2mAttributeParser attributeParser = new DefaultLwM2mAttributeParser();

    ClientsApi(LeshanServer server, ObjectMapper mapper, EventHub events) {
        this.server = server;
        this.mapper = mapper;
        this.events = events;
        this.queue = new RequestQueue(server);
    }

    @Override
    public void handle(Http.Request req, Http.Response resp) throws Exception {
        if ("GET".equals(req.method) && req.pathInfo == null) {
            List<Registration> all = new ArrayList<>();
            for (Iterator<Registration> it = server.getRegistrationService().getAllRegistrations(); it.hasNext();) {
                all.add(it.next());
            }
            resp.json(Json.write(mapper, all));
            return;
        }
        String[] path = req.segments();
        if (path.length < 1) {
            resp.text(Http.BAD_REQUEST, INVALID_PATH);
            return;
        }
        if (!Arrays.asList("GET", "PUT", "POST", "DELETE").contains(req.method)) {
            resp.text(Http.METHOD_NOT_ALLOWED, "HTTP method " + req.method + " is not supported by this URL");
            return;
        }
        String endpoint = path[0];
        Registration registration = server.getRegistrationService().getByEndpoint(endpoint);
        if (registration == null) {
            resp.text(Http.BAD_REQUEST, String.format(NO_REGISTERED_CLIENT, endpoint));
            return;
        }
        try {
            switch (req.method) {
            case "GET":
                doGet(req, resp, registration, path);
                break;
            case "PUT":
                doPut(req, resp, registration, path);
                break;
            case "POST":
                doPost(req, resp, registration, path);
                break;
            default:
                doDelete(req, resp, registration, path);
                break;
            }
        } catch (RuntimeException e) {
            handleException(e, resp);
        }
    }

    /** Path below "/{endpoint}", e.g. "/3/0/1". */
    private static String lwm2mPath(Http.Request req, String endpoint) {
        String prefix = "/" + endpoint;
        return req.pathInfo.startsWith(prefix) ? req.pathInfo.substring(prefix.length()) : req.pathInfo;
    }

    /** Path between "/{endpoint}" and the trailing "/{suffix}", e.g. "/3/0" for "/ep/3/0/observe". */
    private static String lwm2mPathBefore(Http.Request req, String endpoint, String suffix) {
        String path = lwm2mPath(req, endpoint);
        return path.substring(0, path.length() - suffix.length() - 1);
    }

    private static ContentFormat format(Http.Request req, String param) {
        String value = req.param(param);
        return value != null ? ContentFormat.fromName(value.toUpperCase()) : null;
    }

    private static long timeoutMs(Http.Request req) {
        String value = req.param("timeout");
        if (value != null) {
            try {
                return Long.parseLong(value) * 1000;
            } catch (NumberFormatException e) {
                // use default
            }
        }
        return DEFAULT_TIMEOUT_MS;
    }

    // ------------------------------------------------------------------ GET

    private void doGet(Http.Request req, Http.Response resp, Registration reg, String[] path) throws Exception {
        String ep = reg.getEndpoint();
        if (path.length == 1) {
            resp.json(Json.write(mapper, reg));
        } else if (path.length == 2 && COMPOSITE.equals(path[1])) {
            List<String> paths = Arrays.asList(req.param("paths").split(","));
            send(reg, new ReadCompositeRequest(format(req, "pathformat"), format(req, "nodeformat"), paths), req, resp);
        } else if (path.length >= 3 && "discover".equals(path[path.length - 1])) {
            send(reg, new DiscoverRequest(lwm2mPathBefore(req, ep, "discover")), req, resp);
        } else {
            send(reg, new ReadRequest(format(req, "format"), lwm2mPath(req, ep)), req, resp);
        }
    }

    // ------------------------------------------------------------------ PUT

    private void doPut(Http.Request req, Http.Response resp, Registration reg, String[] path) throws Exception {
        String ep = reg.getEndpoint();
        if (path.length == 2 && COMPOSITE.equals(path[1])) {
            Map<LwM2mPath, LwM2mNode> values = new LinkedHashMap<>();
            JsonNode body = readJson(req);
            for (Iterator<Map.Entry<String, JsonNode>> it = body.fields(); it.hasNext();) {
                Map.Entry<String, JsonNode> entry = it.next();
                values.put(new LwM2mPath(entry.getKey()), Json.parseNode(entry.getValue()));
            }
            send(reg, new WriteCompositeRequest(format(req, "nodeformat"), values, null), req, resp);
            return;
        }
        if (path.length < 3) {
            resp.text(Http.BAD_REQUEST, INVALID_PATH);
            return;
        }
        if ("attributes".equals(path[path.length - 1])) {
            // like the demo: the path keeps its trailing "/"
            String target = lwm2mPath(req, ep);
            target = target.substring(0, target.length() - "attributes".length());
            LwM2mAttributeSet attributes;
            try {
                attributes = new LwM2mAttributeSet(attributeParser.parseUriQuery(req.queryString));
            } catch (InvalidAttributeException e) {
                LOG.warn("Invalid attributes", e);
                resp.status = Http.BAD_REQUEST;
                resp.write("Invalid attributes: " + e.getMessage());
                return;
            }
            send(reg, new WriteAttributesRequest(target, attributes), req, resp);
            return;
        }
        String target = lwm2mPath(req, ep);
        String replace = req.param("replace");
        boolean replaceMode = replace == null || Boolean.parseBoolean(replace);
        LwM2mNode node = extractNode(target, req);
        send(reg, new WriteRequest(replaceMode ? WriteRequest.Mode.REPLACE : WriteRequest.Mode.UPDATE,
                format(req, "format"), target, node), req, resp);
    }

    // ------------------------------------------------------------------ POST

    private void doPost(Http.Request req, Http.Response resp, Registration reg, String[] path) throws Exception {
        String ep = reg.getEndpoint();
        if (path.length == 3 && COMPOSITE.equals(path[1]) && OBSERVE.equals(path[2])) {
            String[] paths = req.param("paths").split(",");
            send(reg, new ObserveCompositeRequest(format(req, "pathformat"), format(req, "nodeformat"), paths), req,
                    resp);
        } else if (path.length >= 3 && OBSERVE.equals(path[path.length - 1])) {
            send(reg, new ObserveRequest(format(req, "format"), lwm2mPathBefore(req, ep, OBSERVE)), req, resp);
        } else if (path.length == 4) {
            byte[] body = req.body();
            String arguments = body.length > 0 ? req.bodyAsString() : null;
            send(reg, new ExecuteRequest(lwm2mPath(req, ep), arguments), req, resp);
        } else if (path.length == 2 || path.length == 3) {
            String target = lwm2mPath(req, ep);
            LwM2mChildNode node = extractNode(target, req);
            if (!(node instanceof LwM2mObjectInstance)) {
                throw new IllegalArgumentException("payload must contain an object instance");
            }
            LwM2mObjectInstance instance = (LwM2mObjectInstance) node;
            ContentFormat format = format(req, "format");
            CreateRequest request = instance.getId() == LwM2mObjectInstance.UNDEFINED
                    ? new CreateRequest(format, target, instance.getResources().values())
                    : new CreateRequest(format, target, instance);
            send(reg, request, req, resp);
        } else {
            resp.text(Http.BAD_REQUEST, INVALID_PATH);
        }
    }

    // ------------------------------------------------------------------ DELETE

    private void doDelete(Http.Request req, Http.Response resp, Registration reg, String[] path) throws Exception {
        String ep = reg.getEndpoint();
        if (path.length == 3 && COMPOSITE.equals(path[1]) && OBSERVE.equals(path[2])) {
            cancelCompositeObservation(req, resp, reg);
        } else if (path.length >= 3 && OBSERVE.equals(path[path.length - 1])) {
            cancelObservation(req, resp, reg, lwm2mPathBefore(req, ep, OBSERVE));
        } else {
            send(reg, new DeleteRequest(lwm2mPath(req, ep)), req, resp);
        }
    }

    private void cancelObservation(Http.Request req, Http.Response resp, Registration reg, String target)
            throws Exception {
        if (req.param("active") == null) {
            // passive cancel: forget the observation, next notification gets a RST
            server.getObservationService().cancelObservations(reg, target);
            resp.status = Http.OK;
            return;
        }
        LwM2mPath lwm2mPath = new LwM2mPath(target);
        Optional<Observation> observation = server.getObservationService().getObservations(reg).stream()
                .filter(o -> o instanceof SingleObservation && ((SingleObservation) o).getPath().equals(lwm2mPath))
                .findFirst();
        if (observation.isEmpty()) {
            resp.text(Http.NOT_FOUND, String.format("no observation for path %s for  client '%s'", target, reg));
            return;
        }
        send(reg, new CancelObservationRequest((SingleObservation) observation.get()), req, resp)
                .thenAccept(r -> {
                    if (r != null && r.isSuccess()) {
                        server.getObservationService().cancelObservations(reg, target);
                    }
                });
    }

    private void cancelCompositeObservation(Http.Request req, Http.Response resp, Registration reg)
            throws Exception {
        String[] paths = req.param("paths").split(",");
        if (req.param("active") == null) {
            server.getObservationService().cancelCompositeObservations(reg, paths);
            resp.status = Http.OK;
            return;
        }
        List<LwM2mPath> lwm2mPaths = LwM2mPath.getLwM2mPathList(Arrays.asList(paths));
        Optional<Observation> observation = server.getObservationService().getObservations(reg).stream()
                .filter(o -> o instanceof CompositeObservation
                        && ((CompositeObservation) o).getPaths().equals(lwm2mPaths))
                .findFirst();
        if (observation.isEmpty()) {
            resp.text(Http.NOT_FOUND, String.format("no composite observation for paths %s for  client '%s'",
                    Arrays.toString(paths), reg));
            return;
        }
        send(reg, new CancelCompositeObservationRequest((CompositeObservation) observation.get()), req, resp)
                .thenAccept(r -> {
                    if (r != null && r.isSuccess()) {
                        server.getObservationService().cancelCompositeObservations(reg, paths);
                    }
                });
    }

    // ------------------------------------------------------------------ helpers

    private JsonNode readJson(Http.Request req) throws Exception {
        try {
            return mapper.readTree(req.body());
        } catch (JsonProcessingException e) {
            throw new InvalidRequestException(e, "unable to parse json to tlv:%s", e.getMessage());
        }
    }

    private LwM2mChildNode extractNode(String target, Http.Request req) throws Exception {
        String contentType = req.contentType();
        if ("application/json".equals(contentType)) {
            LwM2mNode node = Json.parseNode(readJson(req));
            if (!(node instanceof LwM2mChildNode)) {
                throw new InvalidRequestException(String.format(
                        "Can not handle %s : Only LwM2m Child Node is supported", node.getClass().getSimpleName()));
            }
            return (LwM2mChildNode) node;
        } else if ("text/plain".equals(contentType)) {
            int resourceId = Integer.parseInt(target.substring(target.lastIndexOf('/') + 1));
            return LwM2mSingleResource.newStringResource(resourceId, req.bodyAsString());
        }
        throw new InvalidRequestException("content type %s not supported", contentType);
    }

    /**
     * Send a request through the queue and write the answer: the response JSON, HTTP 504 "Request timeout", or, for a
     * sleeping queue-mode client, a "delayed" answer followed later by a REQUEST_RESPONSE event.
     */
    private CompletableFuture<LwM2mResponse> send(Registration reg, DownlinkDeviceManagementRequest<?> request,
            Http.Request req, Http.Response resp) throws Exception {
        CompletableFuture<LwM2mResponse> future = queue.send(reg, request, timeoutMs(req));
        if (future.isDone()) {
            LwM2mResponse response;
            try {
                response = future.get();
            } catch (ExecutionException e) {
                if (e.getCause() instanceof RuntimeException) {
                    throw (RuntimeException) e.getCause();
                }
                throw new IllegalStateException(String.format("Unexpected error when trying to send request %s because of %s",
                        request, e.getCause()));
            }
            if (response == null) {
                LOG.warn("Request {} timed out.", req.exchange.getRequestURI().getPath());
                resp.status = Http.GATEWAY_TIMEOUT;
                resp.write("Request timeout");
            } else {
                resp.json(Json.write(mapper, response));
            }
            return future;
        }

        String requestId = UUID.randomUUID().toString();
        String path = request instanceof SimpleDownlinkRequest
                ? ((SimpleDownlinkRequest<?>) request).getPath().toString()
                : null;
        future.thenAccept(response -> events.sendEvent("REQUEST_RESPONSE",
                Json.write(mapper, delayed(reg, path, requestId, response)), reg.getEndpoint()));
        resp.json(Json.write(mapper, delayed(reg, path, requestId, null)));
        return future;
    }

    private ObjectNode delayed(Registration reg, String path, String requestId, LwM2mResponse response) {
        ObjectNode json = mapper.createObjectNode();
        json.put("ep", reg.getEndpoint());
        if (path != null) {
            json.put("path", path);
        }
        json.put("requestId", requestId);
        if (response != null) {
            json.set("response", mapper.valueToTree(response));
        }
        json.put("delayed", true);
        return json;
    }

    /** Same mapping of failures to HTTP answers as the demo server. */
    private static void handleException(RuntimeException e, Http.Response resp) {
        String prefix;
        int status;
        if (e instanceof InvalidRequestException || e instanceof CodecException
                || e instanceof ClientSleepingException) {
            status = Http.BAD_REQUEST;
            prefix = "Invalid request: ";
        } else if (e instanceof RequestRejectedException) {
            status = Http.INTERNAL_SERVER_ERROR;
            prefix = "Request rejected: ";
        } else if (e instanceof RequestCanceledException) {
            status = Http.INTERNAL_SERVER_ERROR;
            prefix = "Request cancelled: ";
        } else if (e instanceof InvalidResponseException) {
            status = Http.INTERNAL_SERVER_ERROR;
            prefix = "Invalid Response: ";
        } else {
            status = Http.INTERNAL_SERVER_ERROR;
            prefix = "Unexpected exception: ";
        }
        LOG.warn("{}{}", prefix, e.getMessage(), e);
        resp.body.reset();
        resp.contentType = "text/plain; charset=UTF-8";
        resp.status = status;
        resp.write(prefix + e.getMessage());
    }
}
