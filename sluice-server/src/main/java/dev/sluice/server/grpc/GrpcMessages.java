package dev.sluice.server.grpc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ListValue;
import com.google.protobuf.NullValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.sluice.server.grpc.proto.ChatInput;
import dev.sluice.server.grpc.proto.ChatMessage;
import dev.sluice.server.grpc.proto.GenerateRequest;
import dev.sluice.server.grpc.proto.SamplingParams;
import dev.sluice.server.inference.GenerationOptions;
import dev.sluice.server.openai.ChatRequest;
import dev.sluice.server.openai.OpenAiException;

import java.util.List;
import java.util.Map;

/**
 * Converts between the OpenAI request body and {@code sluice.v1} messages. The worker turns a
 * {@link GenerateRequest} back into the OpenAI body and validates it with {@link ChatRequest#parse},
 * so a request has one set of rules and error messages whichever way it arrives; the gateway
 * builds the {@link GenerateRequest} from a {@link ChatRequest} it has already validated.
 */
public final class GrpcMessages {
    static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private GrpcMessages() {}

    // ---- gateway side: validated OpenAI request -> proto ----

    /** The {@link GenerateRequest} of a validated request ({@code n} is sent only when it is not 1, so an n = 1 request is what it always was). */
    public static GenerateRequest toProto(ChatRequest r, boolean chat) {
        GenerateRequest.Builder b = GenerateRequest.newBuilder().setModel(r.model());
        if (chat) {
            ChatInput.Builder c = ChatInput.newBuilder();
            for (Map<String, Object> m : r.messages()) {
                ChatMessage.Builder mb = ChatMessage.newBuilder();
                Struct.Builder extra = Struct.newBuilder();
                for (Map.Entry<String, Object> e : m.entrySet()) {
                    Object v = e.getValue();
                    switch (e.getKey()) {
                        case "role" -> mb.setRole(String.valueOf(v));
                        case "content" -> mb.setContent(v == null ? "" : String.valueOf(v));
                        case "name" -> { if (v instanceof String s) mb.setName(s); else extra.putFields("name", value(v)); }
                        case "tool_call_id" -> { if (v instanceof String s) mb.setToolCallId(s); else extra.putFields("tool_call_id", value(v)); }
                        default -> extra.putFields(e.getKey(), value(v));
                    }
                }
                if (extra.getFieldsCount() > 0) mb.setExtra(extra);
                c.addMessages(mb);
            }
            if (r.tools() != null) {
                ListValue.Builder tools = ListValue.newBuilder();
                for (Map<String, Object> t : r.tools()) tools.addValues(value(t));
                c.setTools(tools);
            }
            if (r.templateVars() != null) c.setChatTemplateKwargs(value(r.templateVars()).getStructValue());
            b.setChat(c);
        } else {
            b.setPrompt(r.prompt());
        }
        GenerationOptions o = r.options();
        SamplingParams.Builder s = SamplingParams.newBuilder()
                .setTemperature(o.temperature()).setTopP(o.topP()).setTopK(o.topK()).setMinP(o.minP())
                .setPresencePenalty(o.presencePenalty()).setFrequencyPenalty(o.frequencyPenalty()).setRepetitionPenalty(o.repetitionPenalty())
                .addAllStop(o.stop()).setLogprobs(o.logprobs()).setTopLogprobs(o.topLogprobs()).putAllLogitBias(o.logitBias());
        if (r.maxTokens() != null) s.setMaxTokens(r.maxTokens());
        if (o.seed() != null) s.setSeed(o.seed());
        if (r.n() != 1) s.setN(r.n());
        return b.setSampling(s).build();
    }

    // ---- worker side: proto -> OpenAI request body ----

    /** True for a chat request (messages), false for a plain prompt; INVALID_ARGUMENT-worthy 400 when neither is set. */
    public static boolean isChat(GenerateRequest req) {
        return switch (req.getInputCase()) {
            case CHAT -> true;
            case PROMPT -> false;
            case INPUT_NOT_SET -> throw OpenAiException.invalid("input", "one of 'chat' or 'prompt' is required");
        };
    }

    /**
     * The OpenAI body equivalent to {@code req}, streamed with usage: what {@link ChatRequest#parse}
     * validates. Unset optional fields stay absent so the HTTP API's defaults apply.
     */
    public static ObjectNode toOpenAi(GenerateRequest req) {
        boolean chat = isChat(req);
        ObjectNode body = NODES.objectNode().put("model", req.getModel());
        if (chat) chatInput(body, req.getChat());
        else body.put("prompt", req.getPrompt());
        SamplingParams s = req.getSampling();
        if (s.hasMaxTokens()) body.put("max_tokens", Integer.toUnsignedLong(s.getMaxTokens()));
        if (s.hasTemperature()) body.put("temperature", s.getTemperature());
        if (s.hasTopP()) body.put("top_p", s.getTopP());
        if (s.hasTopK()) body.put("top_k", s.getTopK());
        if (s.hasMinP()) body.put("min_p", s.getMinP());
        if (s.hasPresencePenalty()) body.put("presence_penalty", s.getPresencePenalty());
        if (s.hasFrequencyPenalty()) body.put("frequency_penalty", s.getFrequencyPenalty());
        if (s.hasRepetitionPenalty()) body.put("repetition_penalty", s.getRepetitionPenalty());
        if (s.hasSeed()) body.put("seed", s.getSeed());
        if (s.hasN()) body.put("n", Integer.toUnsignedLong(s.getN()));
        if (s.getStopCount() > 0) {
            ArrayNode stop = body.putArray("stop");
            s.getStopList().forEach(stop::add);
        }
        if (s.getLogprobs()) {
            if (chat) body.put("logprobs", true).put("top_logprobs", Integer.toUnsignedLong(s.getTopLogprobs()));
            else body.put("logprobs", Integer.toUnsignedLong(s.getTopLogprobs()));
        } else if (s.getTopLogprobs() != 0) {
            body.put("top_logprobs", Integer.toUnsignedLong(s.getTopLogprobs())); // refused by the parser: needs logprobs
        }
        if (s.getLogitBiasCount() > 0) {
            ObjectNode lb = body.putObject("logit_bias");
            s.getLogitBiasMap().forEach((k, v) -> lb.put(Integer.toString(k), v));
        }
        body.put("stream", true);
        body.putObject("stream_options").put("include_usage", true);
        return body;
    }

    /** Adds {@code messages}, {@code tools} and {@code chat_template_kwargs} of {@code in} to an OpenAI body. */
    public static void chatInput(ObjectNode body, ChatInput in) {
        ArrayNode ms = body.putArray("messages");
        for (ChatMessage m : in.getMessagesList()) {
            ObjectNode o = ms.addObject();
            if (m.hasExtra()) m.getExtra().getFieldsMap().forEach((k, v) -> o.set(k, json(v)));
            o.put("role", m.getRole()).put("content", m.getContent());
            if (m.hasName()) o.put("name", m.getName());
            if (m.hasToolCallId()) o.put("tool_call_id", m.getToolCallId());
        }
        if (in.hasTools()) body.set("tools", json(Value.newBuilder().setListValue(in.getTools()).build()));
        if (in.hasChatTemplateKwargs()) body.set("chat_template_kwargs", json(Value.newBuilder().setStructValue(in.getChatTemplateKwargs()).build()));
    }

    // ---- google.protobuf.Value <-> Java / JSON ----

    /** A JSON-like Java value (maps, lists, strings, numbers, booleans, null) as a protobuf {@link Value}. */
    @SuppressWarnings("unchecked")
    static Value value(Object v) {
        Value.Builder b = Value.newBuilder();
        if (v == null) return b.setNullValue(NullValue.NULL_VALUE).build();
        if (v instanceof String s) return b.setStringValue(s).build();
        if (v instanceof Boolean x) return b.setBoolValue(x).build();
        if (v instanceof Number n) return b.setNumberValue(n.doubleValue()).build();
        if (v instanceof Map<?, ?> m) {
            Struct.Builder s = Struct.newBuilder();
            ((Map<Object, Object>) m).forEach((k, x) -> s.putFields(String.valueOf(k), value(x)));
            return b.setStructValue(s).build();
        }
        if (v instanceof List<?> l) {
            ListValue.Builder lb = ListValue.newBuilder();
            for (Object x : l) lb.addValues(value(x));
            return b.setListValue(lb).build();
        }
        if (v instanceof JsonNode n) return value(JSON.convertValue(n, Object.class));
        return b.setStringValue(String.valueOf(v)).build();
    }

    /** A protobuf {@link Value} as a JSON node; integral numbers become integers. */
    static JsonNode json(Value v) {
        return switch (v.getKindCase()) {
            case NULL_VALUE, KIND_NOT_SET -> NODES.nullNode();
            case STRING_VALUE -> NODES.textNode(v.getStringValue());
            case BOOL_VALUE -> NODES.booleanNode(v.getBoolValue());
            case NUMBER_VALUE -> {
                double d = v.getNumberValue();
                yield d == Math.rint(d) && Math.abs(d) < 1e15 ? NODES.numberNode((long) d) : NODES.numberNode(d);
            }
            case STRUCT_VALUE -> {
                ObjectNode o = NODES.objectNode();
                v.getStructValue().getFieldsMap().forEach((k, x) -> o.set(k, json(x)));
                yield o;
            }
            case LIST_VALUE -> {
                ArrayNode a = NODES.arrayNode();
                for (Value x : v.getListValue().getValuesList()) a.add(json(x));
                yield a;
            }
        };
    }
}
