# What the page asks of the device: camera, microphone and location are asked of the user
# when the start URL's own origin first asks for them (never at launch, never for another
# origin), and <input type=file> opens the system's file chooser.
.class public Ldev/stoker/shell/Chrome;
.super Landroid/webkit/WebChromeClient;

.field private final activity:Ldev/stoker/shell/MainActivity;
.field private final start:Landroid/net/Uri;
# What waits on the user's answer, one of each kind at a time; requestPermissions' and
# startActivityForResult's codes are 2 (files), 3 (camera, microphone), 4 (location) and 6 (the
# camera for a file chooser).
.field private media:Landroid/webkit/PermissionRequest;
.field private geoOrigin:Ljava/lang/String;
.field private geo:Landroid/webkit/GeolocationPermissions$Callback;
.field private files:Landroid/webkit/ValueCallback;
.field private chooser:Landroid/webkit/WebChromeClient$FileChooserParams;
# Where the camera writes, when the chooser offered it.
.field private shot:Landroid/net/Uri;

.method public constructor <init>(Ldev/stoker/shell/MainActivity;Landroid/net/Uri;)V
    .locals 0
    invoke-direct {p0}, Landroid/webkit/WebChromeClient;-><init>()V
    iput-object p1, p0, Ldev/stoker/shell/Chrome;->activity:Ldev/stoker/shell/MainActivity;
    iput-object p2, p0, Ldev/stoker/shell/Chrome;->start:Landroid/net/Uri;
    return-void
.end method

.method private ours(Landroid/net/Uri;)Z
    .locals 1
    iget-object v0, p0, Ldev/stoker/shell/Chrome;->start:Landroid/net/Uri;
    invoke-static {v0, p1}, Ldev/stoker/shell/Client;->sameOrigin(Landroid/net/Uri;Landroid/net/Uri;)Z
    move-result v0
    return v0
.end method

.method public onPermissionRequest(Landroid/webkit/PermissionRequest;)V
    .locals 7
    invoke-virtual {p1}, Landroid/webkit/PermissionRequest;->getOrigin()Landroid/net/Uri;
    move-result-object v0
    invoke-direct {p0, v0}, Ldev/stoker/shell/Chrome;->ours(Landroid/net/Uri;)Z
    move-result v0
    if-eqz v0, :deny
    # Each resource the page asks for, as the Android permission it needs; anything else is refused.
    invoke-virtual {p1}, Landroid/webkit/PermissionRequest;->getResources()[Ljava/lang/String;
    move-result-object v0
    array-length v1, v0
    new-array v2, v1, [Ljava/lang/String;
    const/4 v3, 0x0
    :each
    if-ge v3, v1, :ask
    aget-object v4, v0, v3
    const-string v5, "android.webkit.resource.VIDEO_CAPTURE"
    invoke-virtual {v5, v4}, Ljava/lang/String;->equals(Ljava/lang/Object;)Z
    move-result v6
    const-string v5, "android.permission.CAMERA"
    if-nez v6, :mapped
    const-string v5, "android.webkit.resource.AUDIO_CAPTURE"
    invoke-virtual {v5, v4}, Ljava/lang/String;->equals(Ljava/lang/Object;)Z
    move-result v6
    const-string v5, "android.permission.RECORD_AUDIO"
    if-eqz v6, :deny
    :mapped
    aput-object v5, v2, v3
    add-int/lit8 v3, v3, 0x1
    goto :each
    :ask
    iget-object v0, p0, Ldev/stoker/shell/Chrome;->media:Landroid/webkit/PermissionRequest;
    if-eqz v0, :asking
    invoke-virtual {v0}, Landroid/webkit/PermissionRequest;->deny()V
    :asking
    iput-object p1, p0, Ldev/stoker/shell/Chrome;->media:Landroid/webkit/PermissionRequest;
    iget-object v0, p0, Ldev/stoker/shell/Chrome;->activity:Ldev/stoker/shell/MainActivity;
    const/4 v1, 0x3
    invoke-virtual {v0, v2, v1}, Landroid/app/Activity;->requestPermissions([Ljava/lang/String;I)V
    return-void
    :deny
    invoke-virtual {p1}, Landroid/webkit/PermissionRequest;->deny()V
    return-void
.end method

.method public onPermissionRequestCanceled(Landroid/webkit/PermissionRequest;)V
    .locals 1
    iget-object v0, p0, Ldev/stoker/shell/Chrome;->media:Landroid/webkit/PermissionRequest;
    if-ne v0, p1, :done
    const/4 v0, 0x0
    iput-object v0, p0, Ldev/stoker/shell/Chrome;->media:Landroid/webkit/PermissionRequest;
    :done
    return-void
.end method

.method public onGeolocationPermissionsShowPrompt(Ljava/lang/String;Landroid/webkit/GeolocationPermissions$Callback;)V
    .locals 3
    invoke-static {p1}, Landroid/net/Uri;->parse(Ljava/lang/String;)Landroid/net/Uri;
    move-result-object v0
    invoke-direct {p0, v0}, Ldev/stoker/shell/Chrome;->ours(Landroid/net/Uri;)Z
    move-result v0
    if-eqz v0, :deny
    iput-object p1, p0, Ldev/stoker/shell/Chrome;->geoOrigin:Ljava/lang/String;
    iput-object p2, p0, Ldev/stoker/shell/Chrome;->geo:Landroid/webkit/GeolocationPermissions$Callback;
    const/4 v0, 0x2
    new-array v0, v0, [Ljava/lang/String;
    const/4 v1, 0x0
    const-string v2, "android.permission.ACCESS_FINE_LOCATION"
    aput-object v2, v0, v1
    const/4 v1, 0x1
    const-string v2, "android.permission.ACCESS_COARSE_LOCATION"
    aput-object v2, v0, v1
    iget-object v1, p0, Ldev/stoker/shell/Chrome;->activity:Ldev/stoker/shell/MainActivity;
    const/4 v2, 0x4
    invoke-virtual {v1, v0, v2}, Landroid/app/Activity;->requestPermissions([Ljava/lang/String;I)V
    return-void
    :deny
    # Not remembered: every page load asks again, and the answer is the same.
    const/4 v0, 0x0
    invoke-interface {p2, p1, v0, v0}, Landroid/webkit/GeolocationPermissions$Callback;->invoke(Ljava/lang/String;ZZ)V
    return-void
.end method

# The user's answer to requestPermissions: camera and microphone only if every one asked for was
# granted; location if either was (from Android 12 a user may grant approximate location alone).
.method public answered(I[I)V
    .locals 5
    const/4 v0, 0x6
    if-ne p1, v0, :asked
    invoke-direct {p0}, Ldev/stoker/shell/Chrome;->openChooser()V
    return-void
    :asked
    const/4 v0, 0x1
    const/4 v3, 0x0
    array-length v1, p2
    if-nez v1, :each
    const/4 v0, 0x0
    :each
    add-int/lit8 v1, v1, -0x1
    if-ltz v1, :decided
    aget v2, p2, v1
    if-nez v2, :no
    const/4 v3, 0x1
    goto :each
    :no
    const/4 v0, 0x0
    goto :each
    :decided
    const/4 v2, 0x4
    if-ne p1, v2, :media
    move v0, v3
    :media
    const/4 v3, 0x0
    const/4 v2, 0x3
    if-ne p1, v2, :geo
    iget-object v1, p0, Ldev/stoker/shell/Chrome;->media:Landroid/webkit/PermissionRequest;
    if-eqz v1, :done
    iput-object v3, p0, Ldev/stoker/shell/Chrome;->media:Landroid/webkit/PermissionRequest;
    if-eqz v0, :refused
    invoke-virtual {v1}, Landroid/webkit/PermissionRequest;->getResources()[Ljava/lang/String;
    move-result-object v2
    invoke-virtual {v1, v2}, Landroid/webkit/PermissionRequest;->grant([Ljava/lang/String;)V
    return-void
    :refused
    invoke-virtual {v1}, Landroid/webkit/PermissionRequest;->deny()V
    return-void
    :geo
    const/4 v2, 0x4
    if-ne p1, v2, :done
    iget-object v1, p0, Ldev/stoker/shell/Chrome;->geo:Landroid/webkit/GeolocationPermissions$Callback;
    if-eqz v1, :done
    iget-object v2, p0, Ldev/stoker/shell/Chrome;->geoOrigin:Ljava/lang/String;
    iput-object v3, p0, Ldev/stoker/shell/Chrome;->geo:Landroid/webkit/GeolocationPermissions$Callback;
    const/4 v4, 0x0
    invoke-interface {v1, v2, v0, v4}, Landroid/webkit/GeolocationPermissions$Callback;->invoke(Ljava/lang/String;ZZ)V
    :done
    return-void
.end method

.method public onShowFileChooser(Landroid/webkit/WebView;Landroid/webkit/ValueCallback;Landroid/webkit/WebChromeClient$FileChooserParams;)Z
    .locals 4
    iget-object v0, p0, Ldev/stoker/shell/Chrome;->files:Landroid/webkit/ValueCallback;
    const/4 v1, 0x0
    if-eqz v0, :choose
    invoke-interface {v0, v1}, Landroid/webkit/ValueCallback;->onReceiveValue(Ljava/lang/Object;)V
    :choose
    iput-object p2, p0, Ldev/stoker/shell/Chrome;->files:Landroid/webkit/ValueCallback;
    iput-object p3, p0, Ldev/stoker/shell/Chrome;->chooser:Landroid/webkit/WebChromeClient$FileChooserParams;
    # An app that asked for the camera offers it in the chooser; the camera permission first
    # (a camera intent from an app that declares CAMERA without holding it is refused).
    iget-object v0, p0, Ldev/stoker/shell/Chrome;->activity:Ldev/stoker/shell/MainActivity;
    invoke-virtual {v0}, Ldev/stoker/shell/MainActivity;->captures()Z
    move-result v2
    if-eqz v2, :open
    const-string v2, "android.permission.CAMERA"
    invoke-virtual {v0, v2}, Landroid/app/Activity;->checkSelfPermission(Ljava/lang/String;)I
    move-result v3
    if-eqz v3, :open
    const/4 v1, 0x1
    new-array v1, v1, [Ljava/lang/String;
    const/4 v3, 0x0
    aput-object v2, v1, v3
    const/4 v3, 0x6
    invoke-virtual {v0, v1, v3}, Landroid/app/Activity;->requestPermissions([Ljava/lang/String;I)V
    const/4 v0, 0x1
    return v0
    :open
    invoke-direct {p0}, Ldev/stoker/shell/Chrome;->openChooser()V
    const/4 v0, 0x1
    return v0
.end method

# The system's chooser for the waiting <input type=file>: documents, and the camera when it may be used.
.method private openChooser()V
    .locals 6
    iget-object v0, p0, Ldev/stoker/shell/Chrome;->chooser:Landroid/webkit/WebChromeClient$FileChooserParams;
    iget-object v1, p0, Ldev/stoker/shell/Chrome;->activity:Ldev/stoker/shell/MainActivity;
    if-eqz v0, :done
    const/4 v2, 0x0
    iput-object v2, p0, Ldev/stoker/shell/Chrome;->shot:Landroid/net/Uri;
    :try_start
    invoke-virtual {v0}, Landroid/webkit/WebChromeClient$FileChooserParams;->createIntent()Landroid/content/Intent;
    move-result-object v0
    invoke-virtual {v1}, Ldev/stoker/shell/MainActivity;->captures()Z
    move-result v2
    if-eqz v2, :start
    const-string v2, "android.permission.CAMERA"
    invoke-virtual {v1, v2}, Landroid/app/Activity;->checkSelfPermission(Ljava/lang/String;)I
    move-result v2
    if-nez v2, :start
    invoke-static {v1}, Ldev/stoker/shell/Shots;->newShot(Landroid/content/Context;)Landroid/net/Uri;
    move-result-object v2
    iput-object v2, p0, Ldev/stoker/shell/Chrome;->shot:Landroid/net/Uri;
    new-instance v3, Landroid/content/Intent;
    const-string v4, "android.media.action.IMAGE_CAPTURE"
    invoke-direct {v3, v4}, Landroid/content/Intent;-><init>(Ljava/lang/String;)V
    # MediaStore.EXTRA_OUTPUT, written through a grant of this one address.
    const-string v4, "output"
    invoke-virtual {v3, v4, v2}, Landroid/content/Intent;->putExtra(Ljava/lang/String;Landroid/os/Parcelable;)Landroid/content/Intent;
    # FLAG_GRANT_READ_URI_PERMISSION | FLAG_GRANT_WRITE_URI_PERMISSION
    const/4 v4, 0x3
    invoke-virtual {v3, v4}, Landroid/content/Intent;->addFlags(I)Landroid/content/Intent;
    const/4 v4, 0x0
    invoke-static {v0, v4}, Landroid/content/Intent;->createChooser(Landroid/content/Intent;Ljava/lang/CharSequence;)Landroid/content/Intent;
    move-result-object v0
    const/4 v4, 0x1
    new-array v4, v4, [Landroid/os/Parcelable;
    const/4 v5, 0x0
    aput-object v3, v4, v5
    const-string v5, "android.intent.extra.INITIAL_INTENTS"
    invoke-virtual {v0, v5, v4}, Landroid/content/Intent;->putExtra(Ljava/lang/String;[Landroid/os/Parcelable;)Landroid/content/Intent;
    :start
    const/4 v2, 0x2
    invoke-virtual {v1, v0, v2}, Landroid/app/Activity;->startActivityForResult(Landroid/content/Intent;I)V
    :try_end
    .catch Landroid/content/ActivityNotFoundException; {:try_start .. :try_end} :none
    :done
    return-void
    :none
    iget-object v0, p0, Ldev/stoker/shell/Chrome;->files:Landroid/webkit/ValueCallback;
    if-eqz v0, :done
    const/4 v1, 0x0
    iput-object v1, p0, Ldev/stoker/shell/Chrome;->files:Landroid/webkit/ValueCallback;
    invoke-interface {v0, v1}, Landroid/webkit/ValueCallback;->onReceiveValue(Ljava/lang/Object;)V
    return-void
.end method

# What the file chooser gave back: the documents picked, the photo taken (the camera answers OK
# with no document), or null when the user backed out, which the page hears as no files.
.method public chosen(IILandroid/content/Intent;)V
    .locals 4
    const/4 v0, 0x2
    if-ne p1, v0, :done
    iget-object v0, p0, Ldev/stoker/shell/Chrome;->files:Landroid/webkit/ValueCallback;
    if-eqz v0, :done
    const/4 v1, 0x0
    iput-object v1, p0, Ldev/stoker/shell/Chrome;->files:Landroid/webkit/ValueCallback;
    iput-object v1, p0, Ldev/stoker/shell/Chrome;->chooser:Landroid/webkit/WebChromeClient$FileChooserParams;
    invoke-static {p2, p3}, Landroid/webkit/WebChromeClient$FileChooserParams;->parseResult(ILandroid/content/Intent;)[Landroid/net/Uri;
    move-result-object v1
    iget-object v2, p0, Ldev/stoker/shell/Chrome;->shot:Landroid/net/Uri;
    const/4 v3, 0x0
    iput-object v3, p0, Ldev/stoker/shell/Chrome;->shot:Landroid/net/Uri;
    if-nez v1, :answer
    if-eqz v2, :answer
    # Activity.RESULT_OK
    const/4 v3, -0x1
    if-ne p2, v3, :answer
    const/4 v1, 0x1
    new-array v1, v1, [Landroid/net/Uri;
    const/4 v3, 0x0
    aput-object v2, v1, v3
    :answer
    invoke-interface {v0, v1}, Landroid/webkit/ValueCallback;->onReceiveValue(Ljava/lang/Object;)V
    :done
    return-void
.end method
