# Navigation: the start URL's origin (and the app's link domains) stays in the app, everything
# else opens outside it;
# a main page that fails to load shows the app's own offline page.
.class public Ldev/stoker/shell/Client;
.super Landroid/webkit/WebViewClient;

.field private final activity:Ldev/stoker/shell/MainActivity;
.field private final start:Landroid/net/Uri;

.method public constructor <init>(Ldev/stoker/shell/MainActivity;Landroid/net/Uri;)V
    .locals 0
    invoke-direct {p0}, Landroid/webkit/WebViewClient;-><init>()V
    iput-object p1, p0, Ldev/stoker/shell/Client;->activity:Ldev/stoker/shell/MainActivity;
    iput-object p2, p0, Ldev/stoker/shell/Client;->start:Landroid/net/Uri;
    return-void
.end method

# Whether `uri` has the start URL's scheme, host and port.
.method public static sameOrigin(Landroid/net/Uri;Landroid/net/Uri;)Z
    .locals 4
    const/4 v0, 0x0
    if-eqz p1, :no
    invoke-virtual {p0}, Landroid/net/Uri;->getScheme()Ljava/lang/String;
    move-result-object v2
    invoke-virtual {p1}, Landroid/net/Uri;->getScheme()Ljava/lang/String;
    move-result-object v3
    if-eqz v2, :no
    invoke-virtual {v2, v3}, Ljava/lang/String;->equalsIgnoreCase(Ljava/lang/String;)Z
    move-result v2
    if-eqz v2, :no

    invoke-virtual {p0}, Landroid/net/Uri;->getHost()Ljava/lang/String;
    move-result-object v2
    invoke-virtual {p1}, Landroid/net/Uri;->getHost()Ljava/lang/String;
    move-result-object v3
    if-eqz v2, :no
    invoke-virtual {v2, v3}, Ljava/lang/String;->equalsIgnoreCase(Ljava/lang/String;)Z
    move-result v2
    if-eqz v2, :no

    invoke-static {p0}, Ldev/stoker/shell/Client;->portOf(Landroid/net/Uri;)I
    move-result v2
    invoke-static {p1}, Ldev/stoker/shell/Client;->portOf(Landroid/net/Uri;)I
    move-result v3
    if-ne v2, v3, :no
    const/4 v0, 0x1
    :no
    return v0
.end method

# The port, the scheme's own when none is written: https://h/ and https://h:443/ are one origin.
.method public static portOf(Landroid/net/Uri;)I
    .locals 2
    invoke-virtual {p0}, Landroid/net/Uri;->getPort()I
    move-result v0
    if-gez v0, :given
    invoke-virtual {p0}, Landroid/net/Uri;->getScheme()Ljava/lang/String;
    move-result-object v1
    const/16 v0, 0x1bb
    const-string p0, "https"
    invoke-virtual {p0, v1}, Ljava/lang/String;->equalsIgnoreCase(Ljava/lang/String;)Z
    move-result p0
    if-nez p0, :given
    const/16 v0, 0x50
    :given
    return v0
.end method

.method private keep(Landroid/net/Uri;)Z
    .locals 2
    iget-object v0, p0, Ldev/stoker/shell/Client;->activity:Ldev/stoker/shell/MainActivity;
    invoke-virtual {v0, p1}, Ldev/stoker/shell/MainActivity;->opensHere(Landroid/net/Uri;)Z
    move-result v0
    if-nez v0, :in
    iget-object v1, p0, Ldev/stoker/shell/Client;->activity:Ldev/stoker/shell/MainActivity;
    invoke-virtual {v1, p1}, Ldev/stoker/shell/MainActivity;->openOutside(Landroid/net/Uri;)V
    const/4 v0, 0x1
    return v0
    :in
    const/4 v0, 0x0
    return v0
.end method

.method public shouldOverrideUrlLoading(Landroid/webkit/WebView;Landroid/webkit/WebResourceRequest;)Z
    .locals 1
    invoke-interface {p2}, Landroid/webkit/WebResourceRequest;->isForMainFrame()Z
    move-result v0
    if-eqz v0, :frame
    invoke-interface {p2}, Landroid/webkit/WebResourceRequest;->getUrl()Landroid/net/Uri;
    move-result-object v0
    invoke-direct {p0, v0}, Ldev/stoker/shell/Client;->keep(Landroid/net/Uri;)Z
    move-result v0
    return v0
    :frame
    const/4 v0, 0x0
    return v0
.end method

# API 23, which has no WebResourceRequest form.
.method public shouldOverrideUrlLoading(Landroid/webkit/WebView;Ljava/lang/String;)Z
    .locals 1
    invoke-static {p2}, Landroid/net/Uri;->parse(Ljava/lang/String;)Landroid/net/Uri;
    move-result-object v0
    invoke-direct {p0, v0}, Ldev/stoker/shell/Client;->keep(Landroid/net/Uri;)Z
    move-result v0
    return v0
.end method

.method public doUpdateVisitedHistory(Landroid/webkit/WebView;Ljava/lang/String;Z)V
    .locals 1
    iget-object v0, p0, Ldev/stoker/shell/Client;->activity:Ldev/stoker/shell/MainActivity;
    invoke-virtual {v0}, Ldev/stoker/shell/MainActivity;->backChanged()V
    return-void
.end method

.method public onReceivedError(Landroid/webkit/WebView;Landroid/webkit/WebResourceRequest;Landroid/webkit/WebResourceError;)V
    .locals 3
    invoke-interface {p2}, Landroid/webkit/WebResourceRequest;->isForMainFrame()Z
    move-result v0
    if-eqz v0, :done
    invoke-interface {p2}, Landroid/webkit/WebResourceRequest;->getUrl()Landroid/net/Uri;
    move-result-object v0
    invoke-virtual {v0}, Landroid/net/Uri;->toString()Ljava/lang/String;
    move-result-object v0
    invoke-virtual {p3}, Landroid/webkit/WebResourceError;->getDescription()Ljava/lang/CharSequence;
    move-result-object v1
    invoke-static {v1}, Ljava/lang/String;->valueOf(Ljava/lang/Object;)Ljava/lang/String;
    move-result-object v1
    iget-object v2, p0, Ldev/stoker/shell/Client;->activity:Ldev/stoker/shell/MainActivity;
    invoke-virtual {v2, v0, v1}, Ldev/stoker/shell/MainActivity;->showOffline(Ljava/lang/String;Ljava/lang/String;)V
    :done
    return-void
.end method
