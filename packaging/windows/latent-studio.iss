; Inno Setup script for Latent Studio on Windows (x64). Needs Inno Setup 6.6 or later.
; Build the one-folder app first (pyinstaller packaging\latent_studio.spec), then:
;   iscc /DAppVersion=VERSION packaging\windows\latent-studio.iss   (VERSION: latentstudio.__version__)
; Output: build\packaging\out\LatentStudio-<version>-setup.exe (+ .bin slices for large builds).
;
; Installs per user by default (no administrator needed; the user may choose all users), adds a
; Start-menu entry and an uninstaller. User data (%LOCALAPPDATA%\latent-studio: library,
; models, generated images, settings, logs) is kept on uninstall unless the user ticks the box.

#if Ver < EncodeVer(6, 6, 0)
  #error Inno Setup 6.6 or later is needed (the uninstall dialog uses CreateCustomForm's 6.6 signature)
#endif

#ifndef AppVersion
  #error Pass the release: iscc /DAppVersion=VERSION (desktop/latentstudio/__init__.py names it)
#endif
#define AppName "Latent Studio"
#define AppExe "Latent Studio.exe"
#define RepoDir SourcePath + "..\.."
#ifndef DistDir
  #define DistDir RepoDir + "\build\packaging\dist\latent-studio"
#endif

[Setup]
AppId={{6E0B6A9E-3C1F-4C55-9F41-2B7D0C8A51E3}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=Latent Studio
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=commandline dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
SetupIconFile={#RepoDir}\resources\icons\latent-studio.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
OutputDir={#RepoDir}\build\packaging\out
OutputBaseFilename=LatentStudio-{#AppVersion}-setup
; The CUDA build of torch is several GB: fast LZMA2, no solid block (faster, lower memory),
; and slices beside Setup.exe when the compressed payload passes Inno's 4.2 GB single-file limit.
Compression=lzma2/fast
SolidCompression=no
DiskSpanning=yes
DiskSliceSize=max
WizardStyle=modern
CloseApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#DistDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{app}"
Name: "{autoprograms}\Uninstall {#AppName}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{app}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[Code]
var
  DeleteUserData: Boolean;

function UserDataDir(): String;
begin
  { The default data home (platformdirs' user data folder). A folder chosen with
    LATENT_STUDIO_HOME is the user's own and is never offered for deletion. }
  Result := ExpandConstant('{localappdata}\latent-studio');
end;

function AskDeleteUserData(const Folder: String): Boolean;
var
  Form: TSetupForm;
  Text: TNewStaticText;
  Box: TNewCheckBox;
  OkButton: TNewButton;
begin
  { 6.6+: the client size is given upfront and scaled by Inno itself. }
  Form := CreateCustomForm(460, 170, False, True);
  try
    Form.Caption := 'Uninstall {#AppName}';
    Text := TNewStaticText.Create(Form);
    Text.Parent := Form;
    Text.Left := ScaleX(12);
    Text.Top := ScaleY(12);
    Text.Width := Form.ClientWidth - ScaleX(24);
    Text.AutoSize := False;
    Text.Height := ScaleY(48);
    Text.WordWrap := True;
    Text.Caption := 'Your library, downloaded models, generated images and settings are in ' + Folder +
      '. They are kept unless you tick the box below.';
    Box := TNewCheckBox.Create(Form);
    Box.Parent := Form;
    Box.Left := ScaleX(12);
    Box.Top := ScaleY(70);
    Box.Width := Form.ClientWidth - ScaleX(24);
    Box.Caption := 'Also delete my Latent Studio data (this cannot be undone)';
    Box.Checked := False;
    OkButton := TNewButton.Create(Form);
    OkButton.Parent := Form;
    OkButton.Caption := 'OK';
    OkButton.Width := ScaleX(80);
    OkButton.Left := Form.ClientWidth - OkButton.Width - ScaleX(12);
    OkButton.Top := Form.ClientHeight - ScaleY(36);
    OkButton.ModalResult := mrOk;
    OkButton.Default := True;
    Form.ActiveControl := OkButton;
    Result := (Form.ShowModal() = mrOk) and Box.Checked;
  finally
    Form.Free();
  end;
end;

function InitializeUninstall(): Boolean;
begin
  DeleteUserData := False;
  { A silent uninstall never deletes user data. }
  if (not UninstallSilent()) and DirExists(UserDataDir()) then
    DeleteUserData := AskDeleteUserData(UserDataDir());
  Result := True;
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if (CurUninstallStep = usPostUninstall) and DeleteUserData then
    DelTree(UserDataDir(), True, True, True);
end;
