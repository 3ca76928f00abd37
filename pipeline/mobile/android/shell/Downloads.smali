# A download link: http(s) through the system's download manager (into Downloads, or the
# app's own files before API 29, where Downloads would need a storage permission); data: and
# blob: links, which only the page can read, saved where the user chooses (see Saver).
.class public Ldev/stoker/shell/Downloads;
.super Ljava/lang/Object;
.implements Landroid/webkit/DownloadListener;

.field private final activity:Ldev/stoker/shell/MainActivity;
.field private final blobs:Ldev/stoker/shell/Blobs;

.method public constructor <init>(Ldev/stoker/shell/MainActivity;Ldev/stoker/shell/Blobs;)V
    .locals 0
    invoke-direct {p0}, Ljava/lang/Object;-><init>()V
    iput-object p1, p0, Ldev/stoker/shell/Downloads;->activity:Ldev/stoker/shell/MainActivity;
    iput-object p2, p0, Ldev/stoker/shell/Downloads;->blobs:Ldev/stoker/shell/Blobs;
    return-void
.end method

.method public onDownloadStart(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;J)V
    .locals 5
    invoke-static {p1}, Landroid/net/Uri;->parse(Ljava/lang/String;)Landroid/net/Uri;
    move-result-object v0
    invoke-virtual {v0}, Landroid/net/Uri;->getScheme()Ljava/lang/String;
    move-result-object v1
    const-string v2, "data"
    invoke-virtual {v2, v1}, Ljava/lang/String;->equalsIgnoreCase(Ljava/lang/String;)Z
    move-result v2
    if-eqz v2, :blob
    invoke-static {p1, p3, p4}, Landroid/webkit/URLUtil;->guessFileName(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;)Ljava/lang/String;
    move-result-object v2
    invoke-static {p1}, Ldev/stoker/shell/Saver;->decode(Ljava/lang/String;)[B
    move-result-object v3
    iget-object v4, p0, Ldev/stoker/shell/Downloads;->activity:Ldev/stoker/shell/MainActivity;
    iget-object v1, v4, Ldev/stoker/shell/MainActivity;->saver:Ldev/stoker/shell/Saver;
    invoke-virtual {v1, v4, v2, p4, v3}, Ldev/stoker/shell/Saver;->saveAs(Landroid/app/Activity;Ljava/lang/String;Ljava/lang/String;[B)V
    return-void
    :blob
    const-string v2, "blob"
    invoke-virtual {v2, v1}, Ljava/lang/String;->equalsIgnoreCase(Ljava/lang/String;)Z
    move-result v2
    if-eqz v2, :http
    invoke-direct {p0, p1, p3, p4}, Ldev/stoker/shell/Downloads;->readBlob(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;)V
    return-void
    :http
    const-string v2, "https"
    invoke-virtual {v2, v1}, Ljava/lang/String;->equalsIgnoreCase(Ljava/lang/String;)Z
    move-result v2
    if-nez v2, :web
    const-string v2, "http"
    invoke-virtual {v2, v1}, Ljava/lang/String;->equalsIgnoreCase(Ljava/lang/String;)Z
    move-result v2
    if-eqz v2, :outside
    :web
    :try_start
    new-instance v1, Landroid/app/DownloadManager$Request;
    invoke-direct {v1, v0}, Landroid/app/DownloadManager$Request;-><init>(Landroid/net/Uri;)V
    invoke-virtual {v1, p4}, Landroid/app/DownloadManager$Request;->setMimeType(Ljava/lang/String;)Landroid/app/DownloadManager$Request;
    const-string v2, "User-Agent"
    invoke-virtual {v1, v2, p2}, Landroid/app/DownloadManager$Request;->addRequestHeader(Ljava/lang/String;Ljava/lang/String;)Landroid/app/DownloadManager$Request;
    # The page's own session, for a download of the app's own origin behind its login; never another host's.
    iget-object v2, p0, Ldev/stoker/shell/Downloads;->activity:Ldev/stoker/shell/MainActivity;
    iget-object v2, v2, Ldev/stoker/shell/MainActivity;->start:Landroid/net/Uri;
    invoke-static {v2, v0}, Ldev/stoker/shell/Client;->sameOrigin(Landroid/net/Uri;Landroid/net/Uri;)Z
    move-result v2
    if-eqz v2, :named
    invoke-static {}, Landroid/webkit/CookieManager;->getInstance()Landroid/webkit/CookieManager;
    move-result-object v2
    invoke-virtual {v2, p1}, Landroid/webkit/CookieManager;->getCookie(Ljava/lang/String;)Ljava/lang/String;
    move-result-object v2
    if-eqz v2, :named
    const-string v3, "Cookie"
    invoke-virtual {v1, v3, v2}, Landroid/app/DownloadManager$Request;->addRequestHeader(Ljava/lang/String;Ljava/lang/String;)Landroid/app/DownloadManager$Request;
    :named
    # DownloadManager.Request.VISIBILITY_VISIBLE_NOTIFY_COMPLETED
    const/4 v2, 0x1
    invoke-virtual {v1, v2}, Landroid/app/DownloadManager$Request;->setNotificationVisibility(I)Landroid/app/DownloadManager$Request;
    invoke-static {p1, p3, p4}, Landroid/webkit/URLUtil;->guessFileName(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;)Ljava/lang/String;
    move-result-object v2
    sget-object v3, Landroid/os/Environment;->DIRECTORY_DOWNLOADS:Ljava/lang/String;
    sget v4, Landroid/os/Build$VERSION;->SDK_INT:I
    const/16 v0, 0x1d
    iget-object p2, p0, Ldev/stoker/shell/Downloads;->activity:Ldev/stoker/shell/MainActivity;
    if-ge v4, v0, :public
    invoke-virtual {v1, p2, v3, v2}, Landroid/app/DownloadManager$Request;->setDestinationInExternalFilesDir(Landroid/content/Context;Ljava/lang/String;Ljava/lang/String;)Landroid/app/DownloadManager$Request;
    goto :enqueue
    :public
    invoke-virtual {v1, v3, v2}, Landroid/app/DownloadManager$Request;->setDestinationInExternalPublicDir(Ljava/lang/String;Ljava/lang/String;)Landroid/app/DownloadManager$Request;
    :enqueue
    const-string v2, "download"
    invoke-virtual {p2, v2}, Landroid/app/Activity;->getSystemService(Ljava/lang/String;)Ljava/lang/Object;
    move-result-object v2
    check-cast v2, Landroid/app/DownloadManager;
    invoke-virtual {v2, v1}, Landroid/app/DownloadManager;->enqueue(Landroid/app/DownloadManager$Request;)J
    :try_end
    .catch Ljava/lang/Exception; {:try_start .. :try_end} :outside
    return-void
    # Not a web address (or the download manager would not take it): whatever app handles it.
    :outside
    iget-object v1, p0, Ldev/stoker/shell/Downloads;->activity:Ldev/stoker/shell/MainActivity;
    invoke-static {p1}, Landroid/net/Uri;->parse(Ljava/lang/String;)Landroid/net/Uri;
    move-result-object v0
    invoke-virtual {v1, v0}, Ldev/stoker/shell/MainActivity;->openOutside(Landroid/net/Uri;)V
    return-void
.end method

# A blob: URL lives in the page alone: the page reads it as a data: URL and hands it, with a
# one-time token, to window.StokerBlobs (see Blobs).
.method private readBlob(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;)V
    .locals 4
    invoke-static {p1, p2, p3}, Landroid/webkit/URLUtil;->guessFileName(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;)Ljava/lang/String;
    move-result-object v0
    iget-object v1, p0, Ldev/stoker/shell/Downloads;->blobs:Ldev/stoker/shell/Blobs;
    invoke-virtual {v1, v0}, Ldev/stoker/shell/Blobs;->expect(Ljava/lang/String;)Ljava/lang/String;
    move-result-object v0
    new-instance v1, Ljava/lang/StringBuilder;
    const-string v2, "(function(){var x=new XMLHttpRequest();x.open('GET',"
    invoke-direct {v1, v2}, Ljava/lang/StringBuilder;-><init>(Ljava/lang/String;)V
    invoke-static {p1}, Lorg/json/JSONObject;->quote(Ljava/lang/String;)Ljava/lang/String;
    move-result-object v2
    invoke-virtual {v1, v2}, Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;
    const-string v2, ");x.responseType='blob';x.onload=function(){var r=new FileReader();r.onloadend=function(){window.StokerBlobs.save("
    invoke-virtual {v1, v2}, Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;
    invoke-static {v0}, Lorg/json/JSONObject;->quote(Ljava/lang/String;)Ljava/lang/String;
    move-result-object v2
    invoke-virtual {v1, v2}, Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;
    const-string v2, ",r.result)};r.readAsDataURL(x.response)};x.send()})()"
    invoke-virtual {v1, v2}, Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;
    invoke-virtual {v1}, Ljava/lang/StringBuilder;->toString()Ljava/lang/String;
    move-result-object v1
    iget-object v2, p0, Ldev/stoker/shell/Downloads;->activity:Ldev/stoker/shell/MainActivity;
    iget-object v2, v2, Ldev/stoker/shell/MainActivity;->web:Landroid/webkit/WebView;
    const/4 v3, 0x0
    invoke-virtual {v2, v1, v3}, Landroid/webkit/WebView;->evaluateJavascript(Ljava/lang/String;Landroid/webkit/ValueCallback;)V
    return-void
.end method
