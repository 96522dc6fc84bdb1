package dev.tokenvault.oauth;

/** Why an install did not complete, with the HTTP status of the page shown to the browser. */
class InstallFailure extends RuntimeException {

    private final int status;
    private final String title;

    InstallFailure(int status, String title, String explanation) {
        super(explanation, null, false, false);
        this.status = status;
        this.title = title;
    }

    int status() {
        return status;
    }

    String title() {
        return title;
    }
}
