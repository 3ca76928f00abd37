# Predictive back (API 33 on; the only back there is at targetSdk 36): one page back in the WebView.
.class public Ldev/stoker/shell/Back;
.super Ljava/lang/Object;
.implements Landroid/window/OnBackInvokedCallback;

.field private final activity:Ldev/stoker/shell/MainActivity;

.method public constructor <init>(Ldev/stoker/shell/MainActivity;)V
    .locals 0
    invoke-direct {p0}, Ljava/lang/Object;-><init>()V
    iput-object p1, p0, Ldev/stoker/shell/Back;->activity:Ldev/stoker/shell/MainActivity;
    return-void
.end method

.method public onBackInvoked()V
    .locals 1
    iget-object v0, p0, Ldev/stoker/shell/Back;->activity:Ldev/stoker/shell/MainActivity;
    invoke-virtual {v0}, Ldev/stoker/shell/MainActivity;->goBack()V
    return-void
.end method
