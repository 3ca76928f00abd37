# Files the page makes itself (data: and blob: links): decoded here and written where the user
# chooses in the system's "save as" (no storage permission needed on any Android).
.class public Ldev/stoker/shell/Saver;
.super Ljava/lang/Object;

# The one file waiting for the user to choose where it goes, and its name.
.field private name:Ljava/lang/String;
.field private data:[B

.method public constructor <init>()V
    .locals 0
    invoke-direct {p0}, Ljava/lang/Object;-><init>()V
    return-void
.end method

# The bytes of a data: URL, or null if it is not one that decodes.
.method public static decode(Ljava/lang/String;)[B
    .locals 4
    const/4 v3, 0x0
    :try_start
    const/16 v0, 0x2c
    invoke-virtual {p0, v0}, Ljava/lang/String;->indexOf(I)I
    move-result v0
    if-ltz v0, :none
    const/4 v1, 0x0
    invoke-virtual {p0, v1, v0}, Ljava/lang/String;->substring(II)Ljava/lang/String;
    move-result-object v1
    add-int/lit8 v0, v0, 0x1
    invoke-virtual {p0, v0}, Ljava/lang/String;->substring(I)Ljava/lang/String;
    move-result-object v2
    const-string v0, ";base64"
    invoke-virtual {v1, v0}, Ljava/lang/String;->endsWith(Ljava/lang/String;)Z
    move-result v0
    if-eqz v0, :text
    invoke-static {v2, v3}, Landroid/util/Base64;->decode(Ljava/lang/String;I)[B
    move-result-object v0
    return-object v0
    :text
    invoke-static {v2}, Landroid/net/Uri;->decode(Ljava/lang/String;)Ljava/lang/String;
    move-result-object v2
    sget-object v0, Ljava/nio/charset/StandardCharsets;->UTF_8:Ljava/nio/charset/Charset;
    invoke-virtual {v2, v0}, Ljava/lang/String;->getBytes(Ljava/nio/charset/Charset;)[B
    move-result-object v0
    return-object v0
    :try_end
    .catch Ljava/lang/Exception; {:try_start .. :try_end} :none
    :none
    const/4 v0, 0x0
    return-object v0
.end method

# Ask the user where to keep `data` (the system's "save as", which needs no permission); written()
# writes it there. A newer file waiting replaces an older one.
.method public saveAs(Landroid/app/Activity;Ljava/lang/String;Ljava/lang/String;[B)V
    .locals 3
    if-nez p4, :ask
    const/4 v0, 0x0
    invoke-static {p1, p2, v0}, Ldev/stoker/shell/Saver;->tell(Landroid/app/Activity;Ljava/lang/String;Z)V
    return-void
    :ask
    iput-object p2, p0, Ldev/stoker/shell/Saver;->name:Ljava/lang/String;
    iput-object p4, p0, Ldev/stoker/shell/Saver;->data:[B
    new-instance v0, Landroid/content/Intent;
    const-string v1, "android.intent.action.CREATE_DOCUMENT"
    invoke-direct {v0, v1}, Landroid/content/Intent;-><init>(Ljava/lang/String;)V
    const-string v1, "android.intent.category.OPENABLE"
    invoke-virtual {v0, v1}, Landroid/content/Intent;->addCategory(Ljava/lang/String;)Landroid/content/Intent;
    if-nez p3, :typed
    const-string p3, "application/octet-stream"
    :typed
    invoke-virtual {v0, p3}, Landroid/content/Intent;->setType(Ljava/lang/String;)Landroid/content/Intent;
    const-string v1, "android.intent.extra.TITLE"
    invoke-virtual {v0, v1, p2}, Landroid/content/Intent;->putExtra(Ljava/lang/String;Ljava/lang/String;)Landroid/content/Intent;
    :try_start
    const/4 v1, 0x5
    invoke-virtual {p1, v0, v1}, Landroid/app/Activity;->startActivityForResult(Landroid/content/Intent;I)V
    :try_end
    .catch Landroid/content/ActivityNotFoundException; {:try_start .. :try_end} :none
    return-void
    :none
    const/4 v0, 0x0
    iput-object v0, p0, Ldev/stoker/shell/Saver;->data:[B
    const/4 v0, 0x0
    invoke-static {p1, p2, v0}, Ldev/stoker/shell/Saver;->tell(Landroid/app/Activity;Ljava/lang/String;Z)V
    return-void
.end method

# The "save as" answered (request code 5): write the waiting file where the user chose.
.method public written(Landroid/app/Activity;IILandroid/content/Intent;)V
    .locals 4
    const/4 v0, 0x5
    if-ne p2, v0, :done
    iget-object v0, p0, Ldev/stoker/shell/Saver;->data:[B
    iget-object v1, p0, Ldev/stoker/shell/Saver;->name:Ljava/lang/String;
    const/4 v2, 0x0
    iput-object v2, p0, Ldev/stoker/shell/Saver;->data:[B
    if-eqz v0, :done
    # Activity.RESULT_OK; the user backing out saves nothing and says nothing.
    const/4 v2, -0x1
    if-ne p3, v2, :done
    if-eqz p4, :done
    :try_start
    invoke-virtual {p4}, Landroid/content/Intent;->getData()Landroid/net/Uri;
    move-result-object v2
    invoke-virtual {p1}, Landroid/app/Activity;->getContentResolver()Landroid/content/ContentResolver;
    move-result-object v3
    invoke-virtual {v3, v2}, Landroid/content/ContentResolver;->openOutputStream(Landroid/net/Uri;)Ljava/io/OutputStream;
    move-result-object v3
    invoke-virtual {v3, v0}, Ljava/io/OutputStream;->write([B)V
    invoke-virtual {v3}, Ljava/io/OutputStream;->close()V
    const/4 v2, 0x1
    invoke-static {p1, v1, v2}, Ldev/stoker/shell/Saver;->tell(Landroid/app/Activity;Ljava/lang/String;Z)V
    return-void
    :try_end
    .catch Ljava/lang/Exception; {:try_start .. :try_end} :failed
    :failed
    const/4 v2, 0x0
    invoke-static {p1, v1, v2}, Ldev/stoker/shell/Saver;->tell(Landroid/app/Activity;Ljava/lang/String;Z)V
    :done
    return-void
.end method

# Say on screen that a file was saved, or could not be (on the UI thread, as a Toast must be).
.method public static tell(Landroid/app/Activity;Ljava/lang/String;Z)V
    .locals 2
    new-instance v0, Ljava/lang/StringBuilder;
    const-string v1, "Saved "
    if-nez p2, :start
    const-string v1, "Could not save "
    :start
    invoke-direct {v0, v1}, Ljava/lang/StringBuilder;-><init>(Ljava/lang/String;)V
    invoke-virtual {v0, p1}, Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;
    invoke-virtual {v0}, Ljava/lang/StringBuilder;->toString()Ljava/lang/String;
    move-result-object v0
    const/4 v1, 0x0
    invoke-static {p0, v0, v1}, Landroid/widget/Toast;->makeText(Landroid/content/Context;Ljava/lang/CharSequence;I)Landroid/widget/Toast;
    move-result-object v0
    invoke-virtual {v0}, Landroid/widget/Toast;->show()V
    return-void
.end method
