// The whole app: one WKWebView on the start URL that Info.plist carries as StokerStartURL.
// Made by Stoker; the project builds as it is in Xcode 15 or later.
import UIKit
import WebKit

@main
final class AppDelegate: UIResponder, UIApplicationDelegate {
    var window: UIWindow?

    func application(_ application: UIApplication,
                     didFinishLaunchingWithOptions launchOptions: [UIApplication.LaunchOptionsKey: Any]?) -> Bool {
        window = UIWindow(frame: UIScreen.main.bounds)
        window?.rootViewController = WebViewController()
        window?.makeKeyAndVisible()
        return true
    }
}

final class WebViewController: UIViewController, WKUIDelegate, WKNavigationDelegate {
    private let startURL = URL(string: Bundle.main.object(forInfoDictionaryKey: "StokerStartURL") as! String)!
    private var webView: WKWebView!

    override func loadView() {
        let configuration = WKWebViewConfiguration()
        configuration.allowsInlineMediaPlayback = true
        webView = WKWebView(frame: .zero, configuration: configuration)
        webView.uiDelegate = self
        webView.navigationDelegate = self
        webView.allowsBackForwardNavigationGestures = true
        view = webView
    }

    override func viewDidLoad() {
        super.viewDidLoad()
        webView.load(URLRequest(url: startURL))
    }

    // Camera and microphone go only to the start URL's own origin.
    @available(iOS 15.0, *)
    func webView(_ webView: WKWebView, requestMediaCapturePermissionFor origin: WKSecurityOrigin,
                 initiatedByFrame frame: WKFrameInfo, type: WKMediaCaptureType,
                 decisionHandler: @escaping (WKPermissionDecision) -> Void) {
        let port = startURL.port ?? (startURL.scheme == "https" ? 443 : 80)
        let samePort = origin.port == 0 || origin.port == port
        let same = origin.protocol == startURL.scheme && origin.host == startURL.host && samePort
        decisionHandler(same ? .grant : .deny)
    }
}
