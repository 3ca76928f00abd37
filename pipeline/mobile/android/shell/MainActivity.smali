# The one activity of every Android app Stoker builds: a WebView on the start URL that the
# app's manifest carries as meta-data (see pipeline/mobile/android/sources.py), laid out
# inside the system bars, with back navigation through the page's history.
.class public Ldev/stoker/shell/MainActivity;
.super Landroid/app/Activity;

.field web:Landroid/webkit/WebView;
.field start:Landroid/net/Uri;
# The hosts whose https links open here (meta-data stoker.LINK_DOMAINS; *.host for its subdomains).
.field links:[Ljava/lang/String;
.field chrome:Ldev/stoker/shell/Chrome;
.field saver:Ldev/stoker/shell/Saver;
# From API 33: the OnBackInvokedCallback (a Back), registered only while the page can go back,
# so that back from the first page leaves the app with the system's predictive animation.
.field back:Ljava/lang/Object;
.field backRegistered:Z

.method public constructor <init>()V
    .locals 0
    invoke-direct {p0}, Landroid/app/Activity;-><init>()V
    return-void
.end method

.method protected onCreate(Landroid/os/Bundle;)V
    .locals 8
    invoke-super {p0, p1}, Landroid/app/Activity;->onCreate(Landroid/os/Bundle;)V

    const-string v0, "stoker.START_URL"
    invoke-direct {p0, v0}, Ldev/stoker/shell/MainActivity;->metaData(Ljava/lang/String;)Ljava/lang/String;
    move-result-object v0
    invoke-static {v0}, Landroid/net/Uri;->parse(Ljava/lang/String;)Landroid/net/Uri;
    move-result-object v1
    iput-object v1, p0, Ldev/stoker/shell/MainActivity;->start:Landroid/net/Uri;
    const-string v2, "stoker.LINK_DOMAINS"
    invoke-direct {p0, v2}, Ldev/stoker/shell/MainActivity;->metaData(Ljava/lang/String;)Ljava/lang/String;
    move-result-object v2
    if-nez v2, :linked
    const-string v2, ""
    :linked
    const-string v3, ","
    invoke-virtual {v2, v3}, Ljava/lang/String;->split(Ljava/lang/String;)[Ljava/lang/String;
    move-result-object v2
    iput-object v2, p0, Ldev/stoker/shell/MainActivity;->links:[Ljava/lang/String;
    # Opened by a verified App Link: that page, if it is one of the app's own.
    invoke-virtual {p0}, Landroid/app/Activity;->getIntent()Landroid/content/Intent;
    move-result-object v2
    invoke-virtual {v2}, Landroid/content/Intent;->getData()Landroid/net/Uri;
    move-result-object v2
    if-eqz v2, :started
    invoke-virtual {p0, v2}, Ldev/stoker/shell/MainActivity;->opensHere(Landroid/net/Uri;)Z
    move-result v3
    if-eqz v3, :started
    invoke-virtual {v2}, Landroid/net/Uri;->toString()Ljava/lang/String;
    move-result-object v0
    :started

    # From targetSdk 35 the window is drawn edge to edge: the frame pads itself by the bars' insets.
    new-instance v2, Landroid/widget/FrameLayout;
    invoke-direct {v2, p0}, Landroid/widget/FrameLayout;-><init>(Landroid/content/Context;)V
    const/4 v3, 0x1
    invoke-virtual {v2, v3}, Landroid/widget/FrameLayout;->setFitsSystemWindows(Z)V
    # What shows under the bars: the app's colour resource "bars" (the theme colour).
    invoke-virtual {p0}, Landroid/app/Activity;->getResources()Landroid/content/res/Resources;
    move-result-object v5
    const-string v4, "bars"
    const-string v6, "color"
    invoke-virtual {p0}, Landroid/app/Activity;->getPackageName()Ljava/lang/String;
    move-result-object v7
    invoke-virtual {v5, v4, v6, v7}, Landroid/content/res/Resources;->getIdentifier(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;)I
    move-result v4
    invoke-virtual {p0, v4}, Landroid/app/Activity;->getColor(I)I
    move-result v4
    invoke-virtual {v2, v4}, Landroid/widget/FrameLayout;->setBackgroundColor(I)V

    new-instance v4, Landroid/webkit/WebView;
    invoke-direct {v4, p0}, Landroid/webkit/WebView;-><init>(Landroid/content/Context;)V
    iput-object v4, p0, Ldev/stoker/shell/MainActivity;->web:Landroid/webkit/WebView;
    invoke-virtual {v4}, Landroid/webkit/WebView;->getSettings()Landroid/webkit/WebSettings;
    move-result-object v5
    invoke-virtual {v5, v3}, Landroid/webkit/WebSettings;->setJavaScriptEnabled(Z)V
    invoke-virtual {v5, v3}, Landroid/webkit/WebSettings;->setDomStorageEnabled(Z)V

    new-instance v5, Ldev/stoker/shell/Client;
    invoke-direct {v5, p0, v1}, Ldev/stoker/shell/Client;-><init>(Ldev/stoker/shell/MainActivity;Landroid/net/Uri;)V
    invoke-virtual {v4, v5}, Landroid/webkit/WebView;->setWebViewClient(Landroid/webkit/WebViewClient;)V
    new-instance v5, Ldev/stoker/shell/Chrome;
    invoke-direct {v5, p0, v1}, Ldev/stoker/shell/Chrome;-><init>(Ldev/stoker/shell/MainActivity;Landroid/net/Uri;)V
    iput-object v5, p0, Ldev/stoker/shell/MainActivity;->chrome:Ldev/stoker/shell/Chrome;
    invoke-virtual {v4, v5}, Landroid/webkit/WebView;->setWebChromeClient(Landroid/webkit/WebChromeClient;)V
    new-instance v6, Ldev/stoker/shell/Saver;
    invoke-direct {v6}, Ldev/stoker/shell/Saver;-><init>()V
    iput-object v6, p0, Ldev/stoker/shell/MainActivity;->saver:Ldev/stoker/shell/Saver;
    new-instance v6, Ldev/stoker/shell/Blobs;
    invoke-direct {v6, p0}, Ldev/stoker/shell/Blobs;-><init>(Ldev/stoker/shell/MainActivity;)V
    const-string v7, "StokerBlobs"
    invoke-virtual {v4, v6, v7}, Landroid/webkit/WebView;->addJavascriptInterface(Ljava/lang/Object;Ljava/lang/String;)V
    new-instance v5, Ldev/stoker/shell/Downloads;
    invoke-direct {v5, p0, v6}, Ldev/stoker/shell/Downloads;-><init>(Ldev/stoker/shell/MainActivity;Ldev/stoker/shell/Blobs;)V
    invoke-virtual {v4, v5}, Landroid/webkit/WebView;->setDownloadListener(Landroid/webkit/DownloadListener;)V

    invoke-virtual {v2, v4}, Landroid/widget/FrameLayout;->addView(Landroid/view/View;)V
    invoke-virtual {p0, v2}, Landroid/app/Activity;->setContentView(Landroid/view/View;)V

    sget v5, Landroid/os/Build$VERSION;->SDK_INT:I
    const/16 v3, 0x21
    if-lt v5, v3, :load
    new-instance v5, Ldev/stoker/shell/Back;
    invoke-direct {v5, p0}, Ldev/stoker/shell/Back;-><init>(Ldev/stoker/shell/MainActivity;)V
    iput-object v5, p0, Ldev/stoker/shell/MainActivity;->back:Ljava/lang/Object;
    :load
    invoke-virtual {v4, v0}, Landroid/webkit/WebView;->loadUrl(Ljava/lang/String;)V
    return-void
.end method

# One of the application's meta-data strings (null if absent).
.method private metaData(Ljava/lang/String;)Ljava/lang/String;
    .locals 3
    invoke-virtual {p0}, Landroid/app/Activity;->getPackageManager()Landroid/content/pm/PackageManager;
    move-result-object v0
    invoke-virtual {p0}, Landroid/app/Activity;->getPackageName()Ljava/lang/String;
    move-result-object v1
    # PackageManager.GET_META_DATA
    const/16 v2, 0x80
    invoke-virtual {v0, v1, v2}, Landroid/content/pm/PackageManager;->getApplicationInfo(Ljava/lang/String;I)Landroid/content/pm/ApplicationInfo;
    move-result-object v0
    iget-object v0, v0, Landroid/content/pm/ApplicationInfo;->metaData:Landroid/os/Bundle;
    invoke-virtual {v0, p1}, Landroid/os/Bundle;->getString(Ljava/lang/String;)Ljava/lang/String;
    move-result-object v0
    return-object v0
.end method

# Whether the app asked for the camera (meta-data stoker.CAPTURE): the file chooser then offers it.
.method public captures()Z
    .locals 1
    const-string v0, "stoker.CAPTURE"
    invoke-direct {p0, v0}, Ldev/stoker/shell/MainActivity;->metaData(Ljava/lang/String;)Ljava/lang/String;
    move-result-object v0
    if-eqz v0, :no
    const/4 v0, 0x1
    return v0
    :no
    const/4 v0, 0x0
    return v0
.end method

# Whether a page opens in the app: the start URL's origin, or https on one of the link domains.
.method public opensHere(Landroid/net/Uri;)Z
    .locals 7
    iget-object v0, p0, Ldev/stoker/shell/MainActivity;->start:Landroid/net/Uri;
    invoke-static {v0, p1}, Ldev/stoker/shell/Client;->sameOrigin(Landroid/net/Uri;Landroid/net/Uri;)Z
    move-result v0
    if-nez v0, :yes
    const-string v0, "https"
    invoke-virtual {p1}, Landroid/net/Uri;->getScheme()Ljava/lang/String;
    move-result-object v1
    invoke-virtual {v0, v1}, Ljava/lang/String;->equalsIgnoreCase(Ljava/lang/String;)Z
    move-result v0
    if-eqz v0, :no
    invoke-virtual {p1}, Landroid/net/Uri;->getHost()Ljava/lang/String;
    move-result-object v1
    if-eqz v1, :no
    sget-object v0, Ljava/util/Locale;->ROOT:Ljava/util/Locale;
    invoke-virtual {v1, v0}, Ljava/lang/String;->toLowerCase(Ljava/util/Locale;)Ljava/lang/String;
    move-result-object v1
    iget-object v2, p0, Ldev/stoker/shell/MainActivity;->links:[Ljava/lang/String;
    array-length v3, v2
    const/4 v4, 0x0
    :each
    if-ge v4, v3, :no
    aget-object v5, v2, v4
    add-int/lit8 v4, v4, 0x1
    invoke-virtual {v5}, Ljava/lang/String;->isEmpty()Z
    move-result v6
    if-nez v6, :each
    invoke-virtual {v1, v5}, Ljava/lang/String;->equals(Ljava/lang/Object;)Z
    move-result v6
    if-nez v6, :yes
    const-string v0, "*."
    invoke-virtual {v5, v0}, Ljava/lang/String;->startsWith(Ljava/lang/String;)Z
    move-result v6
    if-eqz v6, :each
    # *.example.com: a subdomain of example.com, or example.com itself (as Android verifies it).
    const/4 v6, 0x1
    invoke-virtual {v5, v6}, Ljava/lang/String;->substring(I)Ljava/lang/String;
    move-result-object v5
    invoke-virtual {v1, v5}, Ljava/lang/String;->endsWith(Ljava/lang/String;)Z
    move-result v6
    if-nez v6, :yes
    invoke-virtual {v5, v6}, Ljava/lang/String;->substring(I)Ljava/lang/String;
    move-result-object v5
    invoke-virtual {v1, v5}, Ljava/lang/String;->equals(Ljava/lang/Object;)Z
    move-result v6
    if-nez v6, :yes
    goto :each
    :no
    const/4 v0, 0x0
    return v0
    :yes
    const/4 v0, 0x1
    return v0
.end method

# Called as the page's history changes: holds the back callback exactly while there is a page to go back to.
.method public backChanged()V
    .locals 4
    iget-object v0, p0, Ldev/stoker/shell/MainActivity;->back:Ljava/lang/Object;
    if-eqz v0, :done
    iget-object v1, p0, Ldev/stoker/shell/MainActivity;->web:Landroid/webkit/WebView;
    invoke-virtual {v1}, Landroid/webkit/WebView;->canGoBack()Z
    move-result v1
    iget-boolean v2, p0, Ldev/stoker/shell/MainActivity;->backRegistered:Z
    if-eq v1, v2, :done
    iput-boolean v1, p0, Ldev/stoker/shell/MainActivity;->backRegistered:Z
    invoke-virtual {p0}, Landroid/app/Activity;->getOnBackInvokedDispatcher()Landroid/window/OnBackInvokedDispatcher;
    move-result-object v2
    check-cast v0, Landroid/window/OnBackInvokedCallback;
    if-eqz v1, :unregister
    # OnBackInvokedDispatcher.PRIORITY_DEFAULT
    const/4 v3, 0x0
    invoke-interface {v2, v3, v0}, Landroid/window/OnBackInvokedDispatcher;->registerOnBackInvokedCallback(ILandroid/window/OnBackInvokedCallback;)V
    return-void
    :unregister
    invoke-interface {v2, v0}, Landroid/window/OnBackInvokedDispatcher;->unregisterOnBackInvokedCallback(Landroid/window/OnBackInvokedCallback;)V
    :done
    return-void
.end method

.method public goBack()V
    .locals 1
    iget-object v0, p0, Ldev/stoker/shell/MainActivity;->web:Landroid/webkit/WebView;
    invoke-virtual {v0}, Landroid/webkit/WebView;->goBack()V
    return-void
.end method

# Before API 33 (and where the system still dispatches back the old way).
.method public onBackPressed()V
    .locals 2
    iget-object v0, p0, Ldev/stoker/shell/MainActivity;->web:Landroid/webkit/WebView;
    if-eqz v0, :leave
    invoke-virtual {v0}, Landroid/webkit/WebView;->canGoBack()Z
    move-result v1
    if-eqz v1, :leave
    invoke-virtual {v0}, Landroid/webkit/WebView;->goBack()V
    return-void
    :leave
    invoke-super {p0}, Landroid/app/Activity;->onBackPressed()V
    return-void
.end method

# A link to another origin or another scheme (tel:, mailto:, geo:, intent:) goes to the app that handles it;
# an intent: link only ever reaches a browsable activity, never one it names.
.method public openOutside(Landroid/net/Uri;)V
    .locals 4
    :try_start
    invoke-virtual {p1}, Landroid/net/Uri;->getScheme()Ljava/lang/String;
    move-result-object v0
    const-string v1, "intent"
    invoke-virtual {v1, v0}, Ljava/lang/String;->equalsIgnoreCase(Ljava/lang/String;)Z
    move-result v0
    if-eqz v0, :view
    invoke-virtual {p1}, Landroid/net/Uri;->toString()Ljava/lang/String;
    move-result-object v0
    # Intent.URI_INTENT_SCHEME
    const/4 v1, 0x1
    invoke-static {v0, v1}, Landroid/content/Intent;->parseUri(Ljava/lang/String;I)Landroid/content/Intent;
    move-result-object v0
    const/4 v1, 0x0
    invoke-virtual {v0, v1}, Landroid/content/Intent;->setComponent(Landroid/content/ComponentName;)Landroid/content/Intent;
    invoke-virtual {v0, v1}, Landroid/content/Intent;->setSelector(Landroid/content/Intent;)V
    goto :start
    :view
    new-instance v0, Landroid/content/Intent;
    const-string v1, "android.intent.action.VIEW"
    invoke-direct {v0, v1, p1}, Landroid/content/Intent;-><init>(Ljava/lang/String;Landroid/net/Uri;)V
    :start
    const-string v1, "android.intent.category.BROWSABLE"
    invoke-virtual {v0, v1}, Landroid/content/Intent;->addCategory(Ljava/lang/String;)Landroid/content/Intent;
    invoke-virtual {p0, v0}, Landroid/app/Activity;->startActivity(Landroid/content/Intent;)V
    :try_end
    .catch Ljava/lang/Exception; {:try_start .. :try_end} :nothing
    return-void
    # No app takes it (or it is not a link any app may be given): the page stays as it is.
    :nothing
    return-void
.end method

# The page could not load: a page of the app's own that says so, with the way back.
.method public showOffline(Ljava/lang/String;Ljava/lang/String;)V
    .locals 6
    new-instance v0, Ljava/lang/StringBuilder;
    const-string v1, "<!doctype html><meta name=viewport content=\"width=device-width,initial-scale=1\"><body style=\"font-family:sans-serif;margin:2em;text-align:center\"><h1>Cannot reach the app</h1><p>Check the connection, then try again.</p><p style=\"color:#666\">"
    invoke-direct {v0, v1}, Ljava/lang/StringBuilder;-><init>(Ljava/lang/String;)V
    invoke-static {p2}, Landroid/text/TextUtils;->htmlEncode(Ljava/lang/String;)Ljava/lang/String;
    move-result-object v1
    invoke-virtual {v0, v1}, Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;
    const-string v1, "</p><p><a style=\"font-size:1.2em\" href=\""
    invoke-virtual {v0, v1}, Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;
    invoke-static {p1}, Landroid/text/TextUtils;->htmlEncode(Ljava/lang/String;)Ljava/lang/String;
    move-result-object v1
    invoke-virtual {v0, v1}, Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;
    const-string v1, "\">Try again</a></p>"
    invoke-virtual {v0, v1}, Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;
    invoke-virtual {v0}, Ljava/lang/StringBuilder;->toString()Ljava/lang/String;
    move-result-object v3
    iget-object v0, p0, Ldev/stoker/shell/MainActivity;->web:Landroid/webkit/WebView;
    const/4 v2, 0x0
    const-string v4, "text/html"
    const-string v5, "utf-8"
    move-object v1, v2
    # loadDataWithBaseURL(null, html, "text/html", "utf-8", failingUrl): history keeps the failing address.
    move-object v2, v3
    move-object v3, v4
    move-object v4, v5
    move-object v5, p1
    invoke-virtual/range {v0 .. v5}, Landroid/webkit/WebView;->loadDataWithBaseURL(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;)V
    return-void
.end method

.method protected onActivityResult(IILandroid/content/Intent;)V
    .locals 1
    invoke-super {p0, p1, p2, p3}, Landroid/app/Activity;->onActivityResult(IILandroid/content/Intent;)V
    iget-object v0, p0, Ldev/stoker/shell/MainActivity;->chrome:Ldev/stoker/shell/Chrome;
    invoke-virtual {v0, p1, p2, p3}, Ldev/stoker/shell/Chrome;->chosen(IILandroid/content/Intent;)V
    iget-object v0, p0, Ldev/stoker/shell/MainActivity;->saver:Ldev/stoker/shell/Saver;
    invoke-virtual {v0, p0, p1, p2, p3}, Ldev/stoker/shell/Saver;->written(Landroid/app/Activity;IILandroid/content/Intent;)V
    return-void
.end method

.method public onRequestPermissionsResult(I[Ljava/lang/String;[I)V
    .locals 1
    iget-object v0, p0, Ldev/stoker/shell/MainActivity;->chrome:Ldev/stoker/shell/Chrome;
    invoke-virtual {v0, p1, p3}, Ldev/stoker/shell/Chrome;->answered(I[I)V
    return-void
.end method
