package dev.tokenvault.oauth;

/** The small HTML pages the browser sees during an install. Every dynamic value is escaped. */
final class Pages {

    private Pages() {
    }

    static String page(String title, String message) {
        return """
                <!doctype html>
                <html lang="en">
                <head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
                <title>%s</title>
                <style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#213343}
                h1{font-size:1.4rem}</style></head>
                <body><h1>%s</h1><p>%s</p></body>
                </html>
                """.formatted(escape(title), escape(title), escape(message));
    }

    static String escape(String s) {
        if (s == null) {
            return "";
        }
        StringBuilder out = new StringBuilder(s.length());
        for (char c : s.toCharArray()) {
            switch (c) {
                case '<' -> out.append("&lt;");
                case '>' -> out.append("&gt;");
                case '&' -> out.append("&amp;");
                case '"' -> out.append("&quot;");
                case '\'' -> out.append("&#39;");
                default -> out.append(c);
            }
        }
        return out.toString();
    }
}
