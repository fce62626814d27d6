package org.lwm2md.testserver;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Date;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;

import org.eclipse.leshan.core.link.DefaultLinkSerializer;
import org.eclipse.leshan.core.link.Link;
import org.eclipse.leshan.core.link.LinkParseException;
import org.eclipse.leshan.core.link.attributes.Attribute;
import org.eclipse.leshan.core.link.lwm2m.DefaultLwM2mLinkParser;
import org.eclipse.leshan.core.model.ResourceModel.Type;
import org.eclipse.leshan.core.node.LwM2mMultipleResource;
import org.eclipse.leshan.core.node.LwM2mNode;
import org.eclipse.leshan.core.node.LwM2mObject;
import org.eclipse.leshan.core.node.LwM2mObjectInstance;
import org.eclipse.leshan.core.node.LwM2mPath;
import org.eclipse.leshan.core.node.LwM2mResource;
import org.eclipse.leshan.core.node.LwM2mResourceInstance;
import org.eclipse.leshan.core.node.LwM2mRoot;
import org.eclipse.leshan.core.node.LwM2mSingleResource;
import org.eclipse.leshan.core.node.ObjectLink;
import org.eclipse.leshan.core.peer.LwM2mPeer;
import org.eclipse.leshan.core.peer.OscoreIdentity;
import org.eclipse.leshan.core.request.BindingMode;
import org.eclipse.leshan.core.request.exception.InvalidRequestException;
import org.eclipse.leshan.core.response.CreateResponse;
import org.eclipse.leshan.core.response.DiscoverResponse;
import org.eclipse.leshan.core.response.LwM2mResponse;
import org.eclipse.leshan.core.response.ReadCompositeResponse;
import org.eclipse.leshan.core.response.ReadResponse;
import org.eclipse.leshan.core.util.Hex;
import org.eclipse.leshan.core.util.datatype.ULong;
import org.eclipse.leshan.server.queue.PresenceService;
import org.eclipse.leshan.server.registration.Registration;
import org.eclipse.leshan.server.registration.RegistrationUpdate;
import org.eclipse.leshan.servers.security.SecurityInfo;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;

/**
 * JSON representation of Leshan objects, producing the same documents as the Leshan demo server's REST API
 * (registrations, responses, LwM2M nodes, links, security infos), and parsing node JSON sent by clients of the API.
 */
final class Json {

    private Json() {
    }

    static ObjectMapper createMapper(PresenceService presence) {
        ObjectMapper mapper = new ObjectMapper();
        mapper.setSerializationInclusion(JsonInclude.Include.NON_NULL);
        SimpleModule module = new SimpleModule("lwm2md-test-server");
        module.addSerializer(Link.class, new LinkSer());
        module.addSerializer(LwM2mNode.class, new NodeSer());
        module.addSerializer(LwM2mResponse.class, new ResponseSer());
        module.addSerializer(Registration.class, new RegistrationSer(presence));
        module.addSerializer(RegistrationUpdate.class, new RegistrationUpdateSer());
        module.addSerializer(SecurityInfo.class, new SecurityInfoSer());
        mapper.registerModule(module);
        return mapper;
    }

    static String write(ObjectMapper mapper, Object value) {
        try {
            return mapper.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("Unable to serialize " + value.getClass().getSimpleName(), e);
        }
    }

    // ------------------------------------------------------------------ serializers

    /** {"url":"/3/0","attributes":{"ver":"1.2"}} */
    static final class LinkSer extends StdSerializer<Link> {
        private static final long serialVersionUID = 1L;

        LinkSer() {
            super(Link.class);
        }

        @Override
        public void serialize(Link link, JsonGenerator gen, SerializerProvider provider) throws IOException {
            gen.writeStartObject();
            gen.writeStringField("url", link.getUriReference());
            gen.writeObjectFieldStart("attributes");
            for (Attribute attribute : link.getAttributes()) {
                gen.writeStringField(attribute.getName(), attribute.getCoreLinkValue());
            }
            gen.writeEndObject();
            gen.writeEndObject();
        }
    }

    /** LwM2M nodes: root, obj, instance, singleResource, multiResource, resourceInstance. */
    static final class NodeSer extends StdSerializer<LwM2mNode> {
        private static final long serialVersionUID = 1L;
        private final DefaultLinkSerializer coreLinkSerializer = new DefaultLinkSerializer();

        NodeSer() {
            super(LwM2mNode.class);
        }

        @Override
        public void serialize(LwM2mNode node, JsonGenerator gen, SerializerProvider provider) throws IOException {
            Map<String, Object> json = new LinkedHashMap<>();
            if (node instanceof LwM2mRoot) {
                json.put("kind", "root");
                json.put("objects", ((LwM2mRoot) node).getObjects().values());
            } else if (node instanceof LwM2mObject) {
                json.put("id", ((LwM2mObject) node).getId());
                json.put("kind", "obj");
                json.put("instances", ((LwM2mObject) node).getInstances().values());
            } else if (node instanceof LwM2mObjectInstance) {
                json.put("id", ((LwM2mObjectInstance) node).getId());
                json.put("kind", "instance");
                json.put("resources", ((LwM2mObjectInstance) node).getResources().values());
            } else if (node instanceof LwM2mResource) {
                LwM2mResource resource = (LwM2mResource) node;
                json.put("id", resource.getId());
                if (resource.isMultiInstances()) {
                    Map<String, Object> values = new LinkedHashMap<>();
                    resource.getInstances().forEach(
                            (id, instance) -> values.put(id.toString(), toJsonValue(resource.getType(), instance.getValue())));
                    json.put("kind", "multiResource");
                    json.put("type", resource.getType().name());
                    json.put("values", values);
                } else {
                    json.put("kind", "singleResource");
                    json.put("type", resource.getType().name());
                    json.put("value", toJsonValue(resource.getType(), resource.getValue()));
                }
            } else if (node instanceof LwM2mResourceInstance) {
                LwM2mResourceInstance instance = (LwM2mResourceInstance) node;
                json.put("id", instance.getId());
                json.put("kind", "resourceInstance");
                json.put("type", instance.getType().name());
                json.put("value", toJsonValue(instance.getType(), instance.getValue()));
            } else {
                throw new UnsupportedOperationException("Unsupported node : " + node.getClass().getSimpleName());
            }
            gen.writeObject(json);
        }

        private Object toJsonValue(Type type, Object value) {
            if (value == null) {
                return null;
            }
            switch (type) {
            case OPAQUE:
                return Hex.encodeHexString((byte[]) value);
            case INTEGER:
            case UNSIGNED_INTEGER:
            case FLOAT:
                // as strings: JavaScript numbers cannot hold every 64-bit integer
                return value.toString();
            case TIME:
                return ((Date) value).getTime();
            case OBJLNK:
                ObjectLink link = (ObjectLink) value;
                Map<String, Object> objlnk = new LinkedHashMap<>();
                objlnk.put("objectId", link.getObjectId());
                objlnk.put("objectInstanceId", link.getObjectInstanceId());
                objlnk.put("nullLink", link.isNullLink());
                return objlnk;
            case CORELINK:
                return coreLinkSerializer.serializeCoreLinkFormat((Link[]) value);
            default:
                return value;
            }
        }
    }

    /** {status:"CONTENT(205)", valid, success, failure, content|objectLinks|location, errormessage} */
    static final class ResponseSer extends StdSerializer<LwM2mResponse> {
        private static final long serialVersionUID = 1L;

        ResponseSer() {
            super(LwM2mResponse.class);
        }

        @Override
        public void serialize(LwM2mResponse response, JsonGenerator gen, SerializerProvider provider)
                throws IOException {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("status", response.getCode().toString());
            json.put("valid", response.isValid());
            json.put("success", response.isSuccess());
            json.put("failure", response.isFailure());
            if (response instanceof ReadResponse) { // also ObserveResponse
                json.put("content", ((ReadResponse) response).getContent());
            } else if (response instanceof DiscoverResponse) {
                json.put("objectLinks", ((DiscoverResponse) response).getObjectLinks());
            } else if (response instanceof CreateResponse) {
                json.put("location", ((CreateResponse) response).getLocation());
            } else if (response instanceof ReadCompositeResponse) { // also ObserveCompositeResponse
                json.put("content", ((ReadCompositeResponse) response).getContent());
            }
            String error = response.getErrorMessage();
            if (response.isFailure() && error != null && !error.isEmpty()) {
                json.put("errormessage", error);
            }
            gen.writeObject(json);
        }
    }

    static boolean isSecure(LwM2mPeer peer) {
        // "secure" means (D)TLS, not OSCORE
        return peer.getIdentity().isSecure() && !(peer.getIdentity() instanceof OscoreIdentity);
    }

    /** Registration as shown by GET /api/clients and the REGISTRATION/DEREGISTRATION events. */
    static final class RegistrationSer extends StdSerializer<Registration> {
        private static final long serialVersionUID = 1L;
        private final transient PresenceService presence;

        RegistrationSer(PresenceService presence) {
            super(Registration.class);
            this.presence = presence;
        }

        @Override
        public void serialize(Registration reg, JsonGenerator gen, SerializerProvider provider) throws IOException {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("endpoint", reg.getEndpoint());
            json.put("registrationId", reg.getId());
            json.put("registrationDate", reg.getRegistrationDate());
            json.put("lastUpdate", reg.getLastUpdate());
            json.put("address", reg.getAddress().getHostAddress() + ":" + reg.getPort());
            json.put("smsNumber", reg.getSmsNumber());
            json.put("lwM2mVersion", reg.getLwM2mVersion().toString());
            json.put("lifetime", reg.getLifeTimeInSec());
            json.put("bindingMode", BindingMode.toString(reg.getBindingMode()));
            json.put("rootPath", reg.getRootPath());
            json.put("objectLinks", reg.getObjectLinks());
            json.put("secure", isSecure(reg.getClientTransportData()));
            json.put("additionalRegistrationAttributes", reg.getAdditionalRegistrationAttributes());
            json.put("queuemode", reg.usesQueueMode());
            json.put("availableInstances", availableInstances(reg.getAvailableInstances()));
            if (reg.usesQueueMode()) {
                json.put("sleeping", !presence.isClientAwake(reg));
            }
            gen.writeObject(json);
        }

        private static SortedMap<Integer, Set<Integer>> availableInstances(Set<LwM2mPath> paths) {
            SortedMap<Integer, Set<Integer>> result = new TreeMap<>();
            for (LwM2mPath path : paths) {
                result.computeIfAbsent(path.getObjectId(), k -> new TreeSet<>()).add(path.getObjectInstanceId());
            }
            return result;
        }
    }

    /** The "update" part of the UPDATED event. */
    static final class RegistrationUpdateSer extends StdSerializer<RegistrationUpdate> {
        private static final long serialVersionUID = 1L;

        RegistrationUpdateSer() {
            super(RegistrationUpdate.class);
        }

        @Override
        public void serialize(RegistrationUpdate update, JsonGenerator gen, SerializerProvider provider)
                throws IOException {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("registrationId", update.getRegistrationId());
            json.put("address", update.getAddress().getHostAddress() + ":" + update.getPort());
            json.put("smsNumber", update.getSmsNumber());
            json.put("lifetime", update.getLifeTimeInSec());
            json.put("alternatePath", update.getAlternatePath());
            json.put("objectLinks", update.getObjectLinks());
            json.put("secure", isSecure(update.getClientTransportData()));
            json.put("additionalAttributes", update.getAdditionalAttributes());
            gen.writeObject(json);
        }
    }

    /** {"endpoint":"x","tls":{"mode":"psk","details":{"identity":"i","key":"hex"}}} */
    static final class SecurityInfoSer extends StdSerializer<SecurityInfo> {
        private static final long serialVersionUID = 1L;

        SecurityInfoSer() {
            super(SecurityInfo.class);
        }

        @Override
        public void serialize(SecurityInfo info, JsonGenerator gen, SerializerProvider provider) throws IOException {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("endpoint", info.getEndpoint());
            if (info.useSecureTransportLayer()) {
                Map<String, Object> tls = new LinkedHashMap<>();
                if (info.usePSK()) {
                    Map<String, Object> details = new LinkedHashMap<>();
                    details.put("identity", info.getPskIdentity());
                    details.put("key", Hex.encodeHexString(info.getPreSharedKey()));
                    tls.put("mode", "psk");
                    tls.put("details", details);
                } else if (info.useRPK()) {
                    tls.put("mode", "rpk");
                    tls.put("details", Map.of("key", Hex.encodeHexString(info.getRawPublicKey().getEncoded())));
                } else if (info.useX509Cert()) {
                    tls.put("mode", "x509");
                }
                json.put("tls", tls);
            }
            gen.writeObject(json);
        }
    }

    // ------------------------------------------------------------------ parsing

    /** Parse a security info sent to PUT /api/security/clients (PSK, RPK or X.509 mode). */
    static SecurityInfo parseSecurityInfo(JsonNode json) {
        if (!json.isObject()) {
            throw new IllegalArgumentException("Security info should be a json object");
        }
        if (!json.hasNonNull("endpoint")) {
            throw new IllegalArgumentException("Missing endpoint");
        }
        String endpoint = json.get("endpoint").asText();
        JsonNode tls = json.get("tls");
        if (tls == null || !tls.isObject()) {
            throw new IllegalArgumentException("Missing tls object (only (D)TLS security is supported here)");
        }
        String mode = tls.path("mode").asText();
        JsonNode details = tls.path("details");
        switch (mode) {
        case "psk":
            if (!details.isObject()) {
                throw new IllegalArgumentException("details field should be a json object");
            }
            if (!details.hasNonNull("identity")) {
                throw new IllegalArgumentException("Missing PSK identity");
            }
            byte[] key;
            try {
                key = Hex.decodeHex(details.path("key").asText().toCharArray());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("key parameter must be a valid hex string", e);
            }
            return SecurityInfo.newPreSharedKeyInfo(endpoint, details.get("identity").asText(), key);
        case "x509":
            return SecurityInfo.newX509CertInfo(endpoint);
        case "rpk":
            try {
                return SecurityInfo.newRawPublicKeyInfo(endpoint,
                        Pem.publicKey(Hex.decodeHex(details.path("key").asText().toCharArray())));
            } catch (IllegalArgumentException | java.security.GeneralSecurityException e) {
                throw new IllegalArgumentException("key must be the hex of a DER SubjectPublicKeyInfo", e);
            }
        default:
            throw new IllegalArgumentException("Invalid security info content (unsupported mode '" + mode + "')");
        }
    }

    /**
     * Parse node JSON (as produced by {@link NodeSer}) into a Leshan node. Structural errors raise
     * {@link InvalidRequestException}; a value that does not fit its type raises {@link IllegalArgumentException}.
     */
    static LwM2mNode parseNode(JsonNode json) {
        if (json == null || !json.isObject()) {
            throw invalidNode("Invalid node element");
        }
        Integer id = json.has("id") ? json.get("id").asInt() : null;
        String kind = json.has("kind") ? json.get("kind").asText() : null;

        if ("obj".equals(kind) || json.has("instances")) {
            requireId(id);
            List<LwM2mObjectInstance> instances = new ArrayList<>();
            for (JsonNode instance : json.path("instances")) {
                instances.add((LwM2mObjectInstance) parseNode(instance));
            }
            return new LwM2mObject(id, instances);
        }
        if ("instance".equals(kind) || json.has("resources")) {
            List<LwM2mResource> resources = new ArrayList<>();
            for (JsonNode resource : json.path("resources")) {
                resources.add((LwM2mResource) parseNode(resource));
            }
            return id == null ? new LwM2mObjectInstance(resources) : new LwM2mObjectInstance(id, resources);
        }
        if ("multiResource".equals(kind) || json.has("values")) {
            requireId(id);
            Type type = parseType(json);
            JsonNode valuesJson = json.get("values");
            if (valuesJson == null || !valuesJson.isObject()) {
                throw invalidNode("Values element is not an object");
            }
            Map<Integer, Object> values = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = valuesJson.fields(); it.hasNext();) {
                Map.Entry<String, JsonNode> entry = it.next();
                values.put(Integer.valueOf(entry.getKey()), parseValue(entry.getValue(), type));
            }
            return LwM2mMultipleResource.newResource(id, values, type);
        }
        if (json.has("value")) {
            requireId(id);
            Type type = parseType(json);
            Object value = parseValue(json.get("value"), type);
            if ("resourceInstance".equals(kind)) {
                return LwM2mResourceInstance.newInstance(id, value, type);
            }
            return LwM2mSingleResource.newResource(id, value, type);
        }
        throw invalidNode("Invalid node element");
    }

    private static InvalidRequestException invalidNode(String message) {
        return new InvalidRequestException("unable to parse json to tlv:%s", message);
    }

    private static void requireId(Integer id) {
        if (id == null) {
            throw invalidNode("Missing id");
        }
    }

    private static Type parseType(JsonNode json) {
        if (!json.hasNonNull("type")) {
            throw invalidNode("Missing type");
        }
        return Type.valueOf(json.get("type").asText().toUpperCase());
    }

    private static Object parseValue(JsonNode value, Type type) {
        switch (type) {
        case BOOLEAN:
            if (value.isBoolean()) {
                return value.asBoolean();
            }
            throw unexpected(value, type, "boolean");
        case STRING:
            if (value.isTextual()) {
                return value.asText();
            }
            throw unexpected(value, type, "string");
        case INTEGER:
            if (value.isTextual()) {
                try {
                    return Long.parseLong(value.asText());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(String.format("%s is not a valid Long.", value), e);
                }
            }
            if (value.canConvertToExactIntegral() && value.canConvertToLong()) {
                return value.asLong();
            }
            throw unexpected(value, type, "string (number is tolerated)");
        case UNSIGNED_INTEGER:
            if (value.isTextual()) {
                try {
                    return ULong.valueOf(value.asText());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(String.format("%s is not a valid Unsigned Long.", value), e);
                }
            }
            if (value.canConvertToExactIntegral()) {
                return value.canConvertToLong() ? ULong.valueOf(value.asLong()) : ULong.valueOf(value.bigIntegerValue());
            }
            throw unexpected(value, type, "string (number is tolerated)");
        case FLOAT:
            if (value.isTextual()) {
                double d;
                try {
                    d = Double.parseDouble(value.asText());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(String.format("%s is not a valid Double.", value), e);
                }
                if (Double.isNaN(d) || Double.isInfinite(d)) {
                    throw new IllegalArgumentException(String.format("%s is not a valid Double.", value));
                }
                return d;
            }
            if (value.isNumber()) {
                return value.asDouble();
            }
            throw unexpected(value, type, "string (number is tolerated)");
        case TIME:
            if (value.canConvertToExactIntegral() && value.canConvertToLong()) {
                return new Date(value.asLong());
            }
            throw unexpected(value, type, "number (ms since epoch)");
        case OPAQUE:
            if (value.isTextual()) {
                return Hex.decodeHex(value.asText().toCharArray());
            }
            throw unexpected(value, type, "string (hex)");
        case OBJLNK:
            if (value.isObject() && value.path("objectId").canConvertToInt()
                    && value.path("objectInstanceId").canConvertToInt()
                    && value.path("objectId").canConvertToExactIntegral()
                    && value.path("objectInstanceId").canConvertToExactIntegral()) {
                return new ObjectLink(value.get("objectId").asInt(), value.get("objectInstanceId").asInt());
            }
            throw unexpected(value, type, "object{objectId:integer, objectInstanceId:integer}");
        case CORELINK:
            if (value.isTextual()) {
                try {
                    return new DefaultLwM2mLinkParser().parseCoreLinkFormat(value.asText().getBytes());
                } catch (LinkParseException e) {
                    throw new IllegalArgumentException("Invalid Links: " + e.getMessage(), e);
                }
            }
            throw unexpected(value, type, "string (CoRE link format)");
        default:
            throw new UnsupportedOperationException(String.format("Type %s is not supported for now", type));
        }
    }

    private static IllegalArgumentException unexpected(JsonNode value, Type type, String expected) {
        return new IllegalArgumentException(
                String.format("Unexpected JSON type of 'value' field [%s]: a JSON %s is expected for %s but was %s.",
                        value, expected, type, value.getNodeType().toString().toLowerCase()));
    }

    /** Small helper for building event payloads. */
    static ObjectNode object(ObjectMapper mapper) {
        return mapper.createObjectNode();
    }
}
