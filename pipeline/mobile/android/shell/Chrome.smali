# Grants the page's requests for camera, microphone and location only when they come
# from the start URL's own origin (scheme, host and port); every other origin is refused.
.class public Ldev/stoker/shell/Chrome;
.super Landroid/webkit/WebChromeClient;

.field private final start:Landroid/net/Uri;

.method public constructor <init>(Landroid/net/Uri;)V
    .locals 0
    invoke-direct {p0}, Landroid/webkit/WebChromeClient;-><init>()V
    iput-object p1, p0, Ldev/stoker/shell/Chrome;->start:Landroid/net/Uri;
    return-void
.end method

.method public sameOrigin(Landroid/net/Uri;)Z
    .locals 4
    const/4 v0, 0x0
    if-eqz p1, :no
    iget-object v1, p0, Ldev/stoker/shell/Chrome;->start:Landroid/net/Uri;

    invoke-virtual {v1}, Landroid/net/Uri;->getScheme()Ljava/lang/String;
    move-result-object v2
    invoke-virtual {p1}, Landroid/net/Uri;->getScheme()Ljava/lang/String;
    move-result-object v3
    invoke-static {v2, v3}, Ljava/util/Objects;->equals(Ljava/lang/Object;Ljava/lang/Object;)Z
    move-result v2
    if-eqz v2, :no

    invoke-virtual {v1}, Landroid/net/Uri;->getHost()Ljava/lang/String;
    move-result-object v2
    invoke-virtual {p1}, Landroid/net/Uri;->getHost()Ljava/lang/String;
    move-result-object v3
    if-eqz v2, :no
    invoke-virtual {v2, v3}, Ljava/lang/String;->equalsIgnoreCase(Ljava/lang/String;)Z
    move-result v2
    if-eqz v2, :no

    invoke-virtual {v1}, Landroid/net/Uri;->getPort()I
    move-result v2
    invoke-virtual {p1}, Landroid/net/Uri;->getPort()I
    move-result v3
    if-ne v2, v3, :no
    const/4 v0, 0x1
    :no
    return v0
.end method

.method public onPermissionRequest(Landroid/webkit/PermissionRequest;)V
    .locals 1
    invoke-virtual {p1}, Landroid/webkit/PermissionRequest;->getOrigin()Landroid/net/Uri;
    move-result-object v0
    invoke-virtual {p0, v0}, Ldev/stoker/shell/Chrome;->sameOrigin(Landroid/net/Uri;)Z
    move-result v0
    if-eqz v0, :deny
    invoke-virtual {p1}, Landroid/webkit/PermissionRequest;->getResources()[Ljava/lang/String;
    move-result-object v0
    invoke-virtual {p1, v0}, Landroid/webkit/PermissionRequest;->grant([Ljava/lang/String;)V
    return-void
    :deny
    invoke-virtual {p1}, Landroid/webkit/PermissionRequest;->deny()V
    return-void
.end method

.method public onGeolocationPermissionsShowPrompt(Ljava/lang/String;Landroid/webkit/GeolocationPermissions$Callback;)V
    .locals 2
    invoke-static {p1}, Landroid/net/Uri;->parse(Ljava/lang/String;)Landroid/net/Uri;
    move-result-object v0
    invoke-virtual {p0, v0}, Ldev/stoker/shell/Chrome;->sameOrigin(Landroid/net/Uri;)Z
    move-result v0
    # Not remembered: every page load asks again, and the answer is the same.
    const/4 v1, 0x0
    invoke-interface {p2, p1, v0, v1}, Landroid/webkit/GeolocationPermissions$Callback;->invoke(Ljava/lang/String;ZZ)V
    return-void
.end method
