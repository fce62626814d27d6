package org.lwm2md.testserver;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import org.eclipse.leshan.core.endpoint.EndpointUri;
import org.eclipse.leshan.core.model.LwM2mModel;
import org.eclipse.leshan.core.model.ObjectModel;
import org.eclipse.leshan.core.model.ResourceModel;
import org.eclipse.leshan.server.LeshanServer;
import org.eclipse.leshan.server.endpoint.LwM2mServerEndpoint;
import org.eclipse.leshan.server.registration.Registration;
import org.eclipse.leshan.servers.security.EditableSecurityStore;
import org.eclipse.leshan.servers.security.NonUniqueSecurityInfoException;
import org.eclipse.leshan.servers.security.SecurityInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** The small REST resources: /api/server, /api/security, /api/objectspecs and the web page. */
final class MiscApi {

    private static final Logger LOG = LoggerFactory.getLogger(MiscApi.class);

    private MiscApi() {
    }

    /** GET /api/server/endpoint, GET /api/server/security. */
    static Http.Handler server(LeshanServer server, ObjectMapper mapper) {
        return (req, resp) -> {
            String[] path = req.segments();
            if (!"GET".equals(req.method)) {
                resp.text(Http.METHOD_NOT_ALLOWED, "HTTP method " + req.method + " is not supported by this URL");
            } else if (path.length == 1 && "endpoint".equals(path[0])) {
                ArrayNode endpoints = mapper.createArrayNode();
                for (LwM2mServerEndpoint endpoint : server.getEndpoints()) {
                    EndpointUri uri = endpoint.getURI();
                    ObjectNode ep = endpoints.addObject();
                    ObjectNode u = ep.putObject("uri");
                    u.put("full", uri.toString());
                    u.put("scheme", uri.getScheme());
                    u.put("host", uri.getHost());
                    u.put("port", uri.getPort());
                    ep.put("description", endpoint.getDescription());
                }
                resp.json(endpoints.toString());
            } else if (path.length == 1 && "security".equals(path[0])) {
                // no server RPK/X.509 identity here (PSK only)
                resp.json("{}");
            } else {
                resp.text(Http.BAD_REQUEST, null);
            }
        };
    }

    /** GET /api/security/clients, PUT /api/security/clients, DELETE /api/security/clients/{ep}. */
    static Http.Handler security(EditableSecurityStore store, ObjectMapper mapper) {
        return (req, resp) -> {
            String[] path = req.segments();
            switch (req.method) {
            case "GET":
                if (path.length == 1 && "clients".equals(path[0])) {
                    resp.json(Json.write(mapper, store.getAll()));
                } else if (path.length == 1 && "server".equals(path[0])) {
                    resp.json("{}");
                } else {
                    resp.text(Http.BAD_REQUEST, null);
                }
                break;
            case "PUT":
                if (path.length != 1 || !"clients".equals(path[0])) {
                    resp.text(Http.BAD_REQUEST, null);
                    break;
                }
                try {
                    SecurityInfo info = Json.parseSecurityInfo(mapper.readTree(req.body()));
                    LOG.debug("New security info for end-point {}: {}", info.getEndpoint(), info);
                    store.add(info);
                    resp.status = Http.OK;
                } catch (NonUniqueSecurityInfoException e) {
                    resp.text(Http.BAD_REQUEST, e.getMessage());
                } catch (JsonProcessingException | IllegalArgumentException e) {
                    resp.text(Http.BAD_REQUEST, "Invalid request body: " + e.getMessage());
                }
                break;
            case "DELETE":
                if (path.length != 2 || !"clients".equals(path[0])) {
                    resp.text(Http.BAD_REQUEST, null);
                } else if (store.remove(path[1], true) != null) {
                    resp.status = Http.OK;
                } else {
                    resp.json("{\"message\":\"not_found\"}");
                }
                break;
            default:
                resp.text(Http.METHOD_NOT_ALLOWED, "HTTP method " + req.method + " is not supported by this URL");
            }
        };
    }

    /** GET /api/objectspecs/{ep}: the object models Leshan uses for this client. */
    static Http.Handler objectSpecs(LeshanServer server, ObjectMapper mapper) {
        return (req, resp) -> {
            String[] path = req.segments();
            if (!"GET".equals(req.method)) {
                resp.text(Http.METHOD_NOT_ALLOWED, "HTTP method " + req.method + " is not supported by this URL");
                return;
            }
            if (path.length != 1) {
                resp.text(Http.BAD_REQUEST, "Invalid path");
                return;
            }
            Registration registration = server.getRegistrationService().getByEndpoint(path[0]);
            if (registration == null) {
                resp.text(Http.BAD_REQUEST, String.format("no registered client with id '%s'", path[0]));
                return;
            }
            LwM2mModel model = server.getModelProvider().getObjectModel(registration);
            List<ObjectModel> objects = new ArrayList<>(model.getObjectModels());
            objects.sort(Comparator.comparing(o -> o.id));
            ArrayNode result = mapper.createArrayNode();
            for (ObjectModel o : objects) {
                ObjectNode jo = result.addObject();
                jo.put("id", o.id);
                jo.put("name", o.name);
                jo.put("instancetype", o.multiple ? "multiple" : "single");
                jo.put("mandatory", o.mandatory);
                jo.put("urn", o.urn);
                jo.put("version", o.version);
                jo.put("lwm2mversion", o.lwm2mVersion);
                jo.put("description", o.description);
                jo.put("description2", o.description2);
                ArrayNode resources = jo.putArray("resourcedefs");
                for (ResourceModel r : o.resources.values()) {
                    ObjectNode jr = resources.addObject();
                    jr.put("id", r.id);
                    jr.put("name", r.name);
                    jr.put("operations", r.operations.toString());
                    jr.put("instancetype", r.multiple ? "multiple" : "single");
                    jr.put("mandatory", r.mandatory);
                    jr.put("type", r.type == null ? "none" : r.type.toString().toLowerCase());
                    jr.put("range", r.rangeEnumeration);
                    jr.put("units", r.units);
                    jr.put("description", r.description);
                }
            }
            resp.json(result.toString());
        };
    }

    /** GET / : the single self-contained web page. */
    static Http.Handler webPage() throws IOException {
        byte[] page;
        try (InputStream in = MiscApi.class.getResourceAsStream("/webapp/index.html")) {
            if (in == null) {
                throw new IOException("webapp/index.html missing from the jar");
            }
            page = in.readAllBytes();
        }
        return (req, resp) -> {
            String p = req.exchange.getRequestURI().getPath();
            if (!"GET".equals(req.method) && !"HEAD".equals(req.method)) {
                resp.text(Http.METHOD_NOT_ALLOWED, "HTTP method " + req.method + " is not supported by this URL");
            } else if (p.equals("/") || p.equals("/index.html")) {
                resp.status = Http.OK;
                resp.contentType = "text/html; charset=UTF-8";
                resp.body.writeBytes(page);
            } else {
                resp.text(Http.NOT_FOUND, "Not Found");
            }
        };
    }
}
