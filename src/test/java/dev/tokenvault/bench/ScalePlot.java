package dev.tokenvault.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.imageio.ImageIO;

/**
 * Draws the scale run's figures against N (not a test): {@code ScalePlot FIGURES_FILE PNG_FILE} reads the
 * {@code name_n<N>_<provider>=value} lines {@code bench/run.sh scale} wrote and draws one panel per figure, N on a
 * logarithmic axis, one line per key provider. Headless AWT, so no display and no other tool is needed.
 */
public final class ScalePlot {

    /** The figures drawn, with their panel titles. */
    static final Map<String, String> PANELS = new LinkedHashMap<>();

    static {
        PANELS.put("sweep_per_second", "refresh sweep, refreshes/s");
        PANELS.put("cold_handout_p50_ms", "cold hand-out p50, ms");
        PANELS.put("cold_handout_p99_ms", "cold hand-out p99, ms");
        PANELS.put("spread_handout_per_second", "hand-outs of uncached portals/s (16 clients)");
        PANELS.put("rss_mb", "RSS after the sweep, MB");
        PANELS.put("heap_live_mb", "live heap, every token cached, MB");
        PANELS.put("db_bytes_per_connection", "database bytes per connection");
        PANELS.put("key_calls_per_refresh", "key-service calls per refresh (local: in-process)");
        PANELS.put("key_calls_per_cold_handout", "key-service calls per cold hand-out");
    }

    private static final Pattern LINE = Pattern.compile("^([a-z0-9_]+)_n(\\d+)_([a-z]+)=([-0-9.]+)$");
    private static final Color[] COLORS = { new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c) };
    private static final int PANEL_W = 420;
    private static final int PANEL_H = 300;
    private static final int COLS = 3;

    private ScalePlot() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: ScalePlot FIGURES_FILE PNG_FILE");
            System.exit(2);
        }
        System.setProperty("java.awt.headless", "true");
        // figure -> provider -> N -> value
        Map<String, Map<String, TreeMap<Long, Double>>> data = new LinkedHashMap<>();
        for (String line : Files.readAllLines(Path.of(args[0]))) {
            Matcher m = LINE.matcher(line.trim());
            if (m.matches() && PANELS.containsKey(m.group(1))) {
                data.computeIfAbsent(m.group(1), k -> new TreeMap<>())
                        .computeIfAbsent(m.group(3), k -> new TreeMap<>())
                        .put(Long.parseLong(m.group(2)), Double.parseDouble(m.group(4)));
            }
        }
        int rows = (PANELS.size() + COLS - 1) / COLS;
        BufferedImage img = new BufferedImage(PANEL_W * COLS, PANEL_H * rows + 30, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, img.getWidth(), img.getHeight());
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        g.drawString("bench/run.sh scale: figures against N connections (log scale)", 10, 20);
        int i = 0;
        for (Map.Entry<String, String> panel : PANELS.entrySet()) {
            int x0 = (i % COLS) * PANEL_W;
            int y0 = 30 + (i / COLS) * PANEL_H;
            panel(g, x0, y0, panel.getValue(), data.getOrDefault(panel.getKey(), Map.of()));
            i++;
        }
        g.dispose();
        ImageIO.write(img, "png", Path.of(args[1]).toFile());
        System.err.println("wrote " + args[1]);
    }

    private static void panel(Graphics2D g, int x0, int y0, String title, Map<String, TreeMap<Long, Double>> series) {
        int left = x0 + 60;
        int right = x0 + PANEL_W - 15;
        int top = y0 + 30;
        int bottom = y0 + PANEL_H - 45;
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 12));
        g.drawString(title, x0 + 10, y0 + 18);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 10));
        List<Long> ns = new ArrayList<>();
        double max = 0;
        for (TreeMap<Long, Double> s : series.values()) {
            s.forEach((n, v) -> {
                if (!ns.contains(n)) {
                    ns.add(n);
                }
            });
            for (double v : s.values()) {
                max = Math.max(max, v);
            }
        }
        ns.sort(Long::compare);
        if (ns.isEmpty()) {
            g.drawString("no figures", left + 10, (top + bottom) / 2);
            return;
        }
        double yMax = niceCeiling(max == 0 ? 1 : max * 1.1);
        double lnMin = Math.log10(ns.get(0)) - 0.15;
        double lnMax = Math.log10(ns.get(ns.size() - 1)) + 0.15;
        g.setColor(new Color(0xdddddd));
        for (int k = 0; k <= 4; k++) {
            int y = bottom - (bottom - top) * k / 4;
            g.drawLine(left, y, right, y);
        }
        g.setColor(Color.BLACK);
        g.drawLine(left, bottom, right, bottom);
        g.drawLine(left, top, left, bottom);
        for (int k = 0; k <= 4; k++) {
            int y = bottom - (bottom - top) * k / 4;
            String label = format(yMax * k / 4);
            g.drawString(label, left - 6 - g.getFontMetrics().stringWidth(label), y + 4);
        }
        for (long n : ns) {
            int x = xOf(n, lnMin, lnMax, left, right);
            g.drawLine(x, bottom, x, bottom + 4);
            String label = String.format(Locale.ROOT, "%,d", n);
            g.drawString(label, x - g.getFontMetrics().stringWidth(label) / 2, bottom + 16);
        }
        g.drawString("N", (left + right) / 2, bottom + 30);
        int c = 0;
        int legendX = left + 8;
        for (Map.Entry<String, TreeMap<Long, Double>> s : series.entrySet()) {
            g.setColor(COLORS[c % COLORS.length]);
            g.setStroke(new BasicStroke(2f));
            int px = -1;
            int py = -1;
            for (Map.Entry<Long, Double> p : s.getValue().entrySet()) {
                int x = xOf(p.getKey(), lnMin, lnMax, left, right);
                int y = bottom - (int) Math.round((bottom - top) * p.getValue() / yMax);
                if (px >= 0) {
                    g.drawLine(px, py, x, y);
                }
                g.fillOval(x - 3, y - 3, 7, 7);
                String v = format(p.getValue());
                g.drawString(v, x + 5, y - 5);
                px = x;
                py = y;
            }
            g.setStroke(new BasicStroke(1f));
            g.fillRect(legendX, top + 2, 10, 10);
            g.setColor(Color.BLACK);
            g.drawString(s.getKey(), legendX + 14, top + 11);
            legendX += 70;
            c++;
        }
    }

    private static int xOf(long n, double lnMin, double lnMax, int left, int right) {
        return left + (int) Math.round((Math.log10(n) - lnMin) / (lnMax - lnMin) * (right - left));
    }

    private static double niceCeiling(double v) {
        double p = Math.pow(10, Math.floor(Math.log10(v)));
        for (double m : new double[] { 1, 2, 2.5, 5, 10 }) {
            if (m * p >= v) {
                return m * p;
            }
        }
        return 10 * p;
    }

    private static String format(double v) {
        if (v == Math.rint(v) && Math.abs(v) >= 10) {
            return String.format(Locale.ROOT, "%,.0f", v);
        }
        return String.format(Locale.ROOT, Math.abs(v) >= 10 ? "%,.0f" : Math.abs(v) >= 1 ? "%.1f" : "%.2f", v);
    }
}
