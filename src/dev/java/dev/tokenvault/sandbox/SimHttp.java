package dev.tokenvault.sandbox;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.tokenvault.sandbox.HubSpotSimulator.SimResponse;

/** The simulator's small HTTP, JSON, encoding and hashing helpers (no state). */
final class SimHttp {

    static final String JSON_TYPE = "application/json;charset=utf-8";
    static final String HTML_TYPE = "text/html;charset=utf-8";
    static final String FORM_TYPE = "application/x-www-form-urlencoded";

    private static final ObjectMapper JSON = new ObjectMapper();

    private SimHttp() {
    }

    /** A JSON response with HubSpot's correlation id header (the body's {@code correlationId} if it has one). */
    static SimResponse json(int status, Object body) {
        Map<String, String> h = new LinkedHashMap<>();
        h.put("Content-Type", JSON_TYPE);
        if (body instanceof Map && ((Map<?, ?>) body).get("correlationId") != null) {
            h.put("X-HubSpot-Correlation-Id", String.valueOf(((Map<?, ?>) body).get("correlationId")));
        } else {
            h.put("X-HubSpot-Correlation-Id", UUID.randomUUID().toString());
        }
        h.put("Cache-Control", "no-store");
        return new SimResponse(status, h, toJson(body));
    }

    static SimResponse html(int status, String page) {
        Map<String, String> h = new LinkedHashMap<>();
        h.put("Content-Type", HTML_TYPE);
        h.put("Cache-Control", "no-store");
        h.put("X-Frame-Options", "DENY");
        return new SimResponse(status, h, page.getBytes(StandardCharsets.UTF_8));
    }

    static byte[] toJson(Object o) {
        try {
            return JSON.writeValueAsBytes(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Parses a JSON body; null when empty or not JSON. */
    static JsonNode readJson(byte[] body) {
        if (body == null || body.length == 0) {
            return null;
        }
        try {
            return JSON.readTree(body);
        } catch (IOException e) {
            return null;
        }
    }

    static Map<String, Object> ordered(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    /** Parses a raw (percent-encoded) query string or form body into decoded multi-valued parameters. */
    static Map<String, List<String>> parseQuery(String raw) {
        Map<String, List<String>> m = new LinkedHashMap<>();
        if (raw == null || raw.isEmpty()) {
            return m;
        }
        for (String pair : raw.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String k = eq < 0 ? pair : pair.substring(0, eq);
            String v = eq < 0 ? "" : pair.substring(eq + 1);
            try {
                k = URLDecoder.decode(k, StandardCharsets.UTF_8);
                v = URLDecoder.decode(v, StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                continue; // malformed escape: ignore the pair, like a lenient server would
            }
            m.computeIfAbsent(k, x -> new ArrayList<>()).add(v);
        }
        return m;
    }

    /** {@code application/x-www-form-urlencoded} encoding of single-valued parameters (nulls skipped). */
    static String formEncode(Map<String, String> params) {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, String> e : params.entrySet()) {
            if (e.getValue() == null) {
                continue;
            }
            if (sb.length() > 0) {
                sb.append('&');
            }
            sb.append(URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8)).append('=')
                    .append(URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8));
        }
        return sb.toString();
    }

    /** Decodes %XX escapes only ('+' stays '+', unlike form decoding). */
    static String percentDecode(String s) {
        if (s.indexOf('%') < 0) {
            return s;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(s.length());
        int i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == '%' && i + 2 < s.length()) {
                int hi = Character.digit(s.charAt(i + 1), 16);
                int lo = Character.digit(s.charAt(i + 2), 16);
                if (hi >= 0 && lo >= 0) {
                    out.write(hi * 16 + lo);
                    i += 3;
                    continue;
                }
            }
            int cp = s.codePointAt(i);
            byte[] bytes = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8);
            out.write(bytes, 0, bytes.length);
            i += Character.charCount(cp);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    static Map<String, String> first(Map<String, List<String>> multi) {
        Map<String, String> m = new LinkedHashMap<>();
        multi.forEach((k, v) -> {
            if (v != null && !v.isEmpty()) {
                m.put(k, v.get(0));
            }
        });
        return m;
    }

    static Map<String, String> merged(Map<String, List<String>> query, Map<String, List<String>> body) {
        Map<String, String> m = first(query);
        m.putAll(first(body));
        return m;
    }

    /** Scopes are space separated (also accepts '+' and ',' defensively); duplicates removed, order kept. */
    static List<String> splitScopes(String s) {
        if (s == null || s.isBlank()) {
            return List.of();
        }
        return Arrays.stream(s.trim().split("[\\s+,]+")).filter(x -> !x.isEmpty()).distinct().collect(Collectors.toList());
    }

    static <T> List<T> concat(List<T> a, List<T> b) {
        List<T> l = new ArrayList<>(a);
        l.addAll(b);
        return l;
    }

    static boolean isBlank(String s) {
        return s == null || s.isBlank();
    }

    static String emptyToNull(String s) {
        return isBlank(s) ? null : s;
    }

    static boolean constantTimeEquals(String a, String b) {
        return MessageDigest.isEqual(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
    }

    static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A token's fingerprint for logs and recordings: the first 6 hex characters of its SHA-256. */
    static String fingerprint(String token) {
        return HexFormat.of().formatHex(sha256(token.getBytes(StandardCharsets.UTF_8))).substring(0, 6);
    }

    /** The token of an {@code Authorization: Bearer} header, or null. */
    static String bearerToken(HubSpotSimulator.SimRequest req) {
        String h = req.header("Authorization");
        if (h == null || h.length() < 7 || !h.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return null;
        }
        String t = h.substring(7).trim();
        return t.isEmpty() ? null : t;
    }

    static String base64(byte[] b) {
        return Base64.getEncoder().encodeToString(b);
    }

    static String esc(String s) {
        if (s == null) {
            return "";
        }
        StringBuilder sb = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '<':
                    sb.append("&lt;");
                    break;
                case '>':
                    sb.append("&gt;");
                    break;
                case '&':
                    sb.append("&amp;");
                    break;
                case '"':
                    sb.append("&quot;");
                    break;
                case '\'':
                    sb.append("&#39;");
                    break;
                default:
                    sb.append(c);
            }
        }
        return sb.toString();
    }
}
