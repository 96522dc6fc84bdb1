package dev.tokenvault.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

import dev.tokenvault.testing.Db;
import dev.tokenvault.testing.SandboxProfile;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;

/**
 * The home page and the sandbox consent screen in a real headless Chromium (Debian's {@code chromium} and
 * {@code chromium-driver}, installed by {@code .ci/run}): follow "Install a portal", click Allow, land on the success
 * page. Screenshots go to {@code target/screenshots/}.
 */
@QuarkusTest
@TestProfile(SandboxProfile.class)
class SandboxBrowserTest {

    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");

    ChromeDriver browser;

    @BeforeEach
    void startBrowser() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
                "Debian's chromium and chromium-driver are not installed (.ci/run installs them)");
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1200,900",
                "--user-data-dir=" + Files.createTempDirectory("chromium-profile"));
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort().build();
        browser = new ChromeDriver(service, options);
    }

    @AfterEach
    void stopBrowser() {
        if (browser != null) {
            browser.quit();
        }
    }

    @Test
    void installAPortalByClickingThroughTheConsentScreen() throws Exception {
        WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(20));
        browser.get(SandboxProfile.BASE + "/");
        assertThat(browser.getTitle()).contains("tokenvault");
        screenshot("home.png");

        browser.findElement(By.id("install")).click();
        wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("portal_id")));
        assertThat(browser.getCurrentUrl()).contains("/sandbox/hubspot/oauth/authorize");
        assertThat(browser.getPageSource()).contains("crm.objects.contacts.read");
        WebElement portal = browser.findElement(By.id("portal_id"));
        portal.clear();
        portal.sendKeys("77001");
        screenshot("consent.png");
        browser.findElement(By.cssSelector("button[value=allow]")).click();

        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.tagName("h1"), "Connected"));
        assertThat(browser.getCurrentUrl()).contains("/oauth/default/callback");
        assertThat(browser.findElement(By.tagName("body")).getText()).contains("77001");
        screenshot("connected.png");
        assertThat(Db.count("select count(*) from connection where app = 'default' and portal_id = 77001"))
                .isEqualTo(1);
    }

    private void screenshot(String name) throws Exception {
        File shot = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE);
        Path target = Path.of("target", "screenshots", name);
        Files.createDirectories(target.getParent());
        Files.copy(shot.toPath(), target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertThat(Files.size(target)).isPositive();
    }
}
