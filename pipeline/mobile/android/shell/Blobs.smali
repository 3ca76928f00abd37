# The page's side of a blob: download (window.StokerBlobs): the shell reads the blob in the page
# as a data: URL and hands it here with the one-time token it was given, so no other frame or page
# can make the app save anything.
.class public Ldev/stoker/shell/Blobs;
.super Ljava/lang/Object;
.implements Ljava/lang/Runnable;

.field private final activity:Ldev/stoker/shell/MainActivity;
# Each token a blob: download was given, and the file name it is saved under.
.field private final pending:Ljava/util/concurrent/ConcurrentHashMap;
# The last blob read on the JavaScript thread, for the UI thread to offer to save.
.field private volatile name:Ljava/lang/String;
.field private volatile data:[B

.method public constructor <init>(Ldev/stoker/shell/MainActivity;)V
    .locals 1
    invoke-direct {p0}, Ljava/lang/Object;-><init>()V
    iput-object p1, p0, Ldev/stoker/shell/Blobs;->activity:Ldev/stoker/shell/MainActivity;
    new-instance v0, Ljava/util/concurrent/ConcurrentHashMap;
    invoke-direct {v0}, Ljava/util/concurrent/ConcurrentHashMap;-><init>()V
    iput-object v0, p0, Ldev/stoker/shell/Blobs;->pending:Ljava/util/concurrent/ConcurrentHashMap;
    return-void
.end method

# A new token for a blob: download to be saved as `name`.
.method public expect(Ljava/lang/String;)Ljava/lang/String;
    .locals 2
    invoke-static {}, Ljava/util/UUID;->randomUUID()Ljava/util/UUID;
    move-result-object v0
    invoke-virtual {v0}, Ljava/util/UUID;->toString()Ljava/lang/String;
    move-result-object v0
    iget-object v1, p0, Ldev/stoker/shell/Blobs;->pending:Ljava/util/concurrent/ConcurrentHashMap;
    invoke-virtual {v1, v0, p1}, Ljava/util/concurrent/ConcurrentHashMap;->put(Ljava/lang/Object;Ljava/lang/Object;)Ljava/lang/Object;
    return-object v0
.end method

.method public save(Ljava/lang/String;Ljava/lang/String;)V
    .locals 4
    .annotation runtime Landroid/webkit/JavascriptInterface;
    .end annotation
    if-eqz p1, :done
    iget-object v0, p0, Ldev/stoker/shell/Blobs;->pending:Ljava/util/concurrent/ConcurrentHashMap;
    invoke-virtual {v0, p1}, Ljava/util/concurrent/ConcurrentHashMap;->remove(Ljava/lang/Object;)Ljava/lang/Object;
    move-result-object v0
    if-eqz v0, :done
    check-cast v0, Ljava/lang/String;
    if-eqz p2, :done
    invoke-static {p2}, Ldev/stoker/shell/Saver;->decode(Ljava/lang/String;)[B
    move-result-object v1
    iput-object v0, p0, Ldev/stoker/shell/Blobs;->name:Ljava/lang/String;
    iput-object v1, p0, Ldev/stoker/shell/Blobs;->data:[B
    iget-object v2, p0, Ldev/stoker/shell/Blobs;->activity:Ldev/stoker/shell/MainActivity;
    invoke-virtual {v2, p0}, Landroid/app/Activity;->runOnUiThread(Ljava/lang/Runnable;)V
    :done
    return-void
.end method

.method public run()V
    .locals 5
    iget-object v0, p0, Ldev/stoker/shell/Blobs;->activity:Ldev/stoker/shell/MainActivity;
    iget-object v1, v0, Ldev/stoker/shell/MainActivity;->saver:Ldev/stoker/shell/Saver;
    iget-object v2, p0, Ldev/stoker/shell/Blobs;->name:Ljava/lang/String;
    const/4 v3, 0x0
    iget-object v4, p0, Ldev/stoker/shell/Blobs;->data:[B
    invoke-virtual {v1, v0, v2, v3, v4}, Ldev/stoker/shell/Saver;->saveAs(Landroid/app/Activity;Ljava/lang/String;Ljava/lang/String;[B)V
    return-void
.end method
